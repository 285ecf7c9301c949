//! The [`codepoint!`](crate::codepoint) macro.

/// Declares an open codepoint set: `pub struct Name(pub int)` with a named constant per
/// registry entry, `name()` (the registry name of a known value), `Debug`, `Display` and
/// conversions from and to the integer. Attributes before the name (doc comments, extra
/// derives such as `Default`) go on the struct; each constant gets its doc comments plus a
/// line with its registry name and value.
///
/// ```
/// proto_util::codepoint! {
///     /// A message type.
///     Kind(u8) {
///         OPEN = 1 => "OPEN",
///     }
/// }
/// assert_eq!(Kind::OPEN.name(), Some("OPEN"));
/// assert_eq!(Kind(9).to_string(), "9");
/// assert_eq!(format!("{:?}", Kind(1)), "OPEN(1)");
/// ```
#[macro_export]
macro_rules! codepoint {
    ($(#[$m:meta])* $name:ident($int:ty) { $($(#[$vm:meta])* $c:ident = $v:expr => $s:expr,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $int);
        impl $name {
            $($(#[$vm])*
            #[doc = concat!("`", $s, "` (", stringify!($v), ").")]
            pub const $c: $name = $name($v);)*
            /// The registry name of a known codepoint.
            pub fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some($s),)* _ => None }
            }
        }
        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({})", n, self.0),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() { Some(n) => f.write_str(n), None => write!(f, "{}", self.0) }
            }
        }
        impl From<$int> for $name { fn from(v: $int) -> Self { $name(v) } }
        impl From<$name> for $int { fn from(v: $name) -> Self { v.0 } }
    };
}
