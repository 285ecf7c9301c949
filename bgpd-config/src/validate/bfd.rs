//! `bfd = ...` on a peer and `[bfd_profiles.NAME]` (RFC 5880 §6.8.1 local values).

use std::collections::BTreeMap;
use std::num::NonZeroU8;
use std::time::Duration;

use super::Validator;
use crate::locate::FieldPath;
use crate::raw::{Int, RawBfd, RawBfdProfile};
use crate::values::parse_duration;
use crate::{
    BfdSettings, DEFAULT_BFD_INTERVAL, DEFAULT_BFD_MULTIPLIER, MAX_BFD_INTERVAL, MIN_BFD_INTERVAL,
};

impl Validator<'_> {
    /// Every `[bfd_profiles.NAME]`, resolved.
    pub(super) fn bfd_profiles(
        &mut self,
        raw: &BTreeMap<String, RawBfdProfile>,
    ) -> BTreeMap<String, BfdSettings> {
        let root = FieldPath::root().key("bfd_profiles");
        raw.iter()
            .map(|(name, p)| {
                let mut s = self.bfd_profile(p, &root.key_owned(name));
                s.profile = Some(name.clone());
                (name.clone(), s)
            })
            .collect()
    }

    /// Warns about `[bfd_profiles.NAME]` tables that no peer names.
    pub(super) fn unused_bfd_profiles(
        &mut self,
        profiles: &BTreeMap<String, BfdSettings>,
        used: &[Option<String>],
    ) {
        for name in profiles.keys() {
            if !used.iter().any(|u| u.as_deref() == Some(name.as_str())) {
                self.warn(
                    &FieldPath::root().key("bfd_profiles").key_owned(name),
                    format!("no peer uses this profile (write bfd = \"{name}\" in a peer)"),
                );
            }
        }
    }

    /// A peer's `bfd` key: `None` when off.
    pub(super) fn peer_bfd(
        &mut self,
        raw: Option<&RawBfd>,
        path: &FieldPath,
        profiles: &BTreeMap<String, BfdSettings>,
    ) -> Option<BfdSettings> {
        match raw? {
            RawBfd::Enabled(false) => None,
            RawBfd::Enabled(true) => Some(self.bfd_profile(&RawBfdProfile::default(), path)),
            RawBfd::Inline(p) => Some(self.bfd_profile(p, path)),
            RawBfd::Profile(name) => match profiles.get(name) {
                Some(s) => Some(s.clone()),
                None => {
                    let known: Vec<&str> = profiles.keys().map(String::as_str).collect();
                    self.err(
                        path,
                        format!(
                            "no [bfd_profiles.{name}] table (profiles defined: {})",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                    None
                }
            },
        }
    }

    fn bfd_profile(&mut self, p: &RawBfdProfile, path: &FieldPath) -> BfdSettings {
        let min_rx = self.bfd_interval(p.min_rx.as_ref(), &path.key("min_rx"));
        let min_tx = self.bfd_interval(p.min_tx.as_ref(), &path.key("min_tx"));
        let default_mult = NonZeroU8::new(DEFAULT_BFD_MULTIPLIER).unwrap_or(NonZeroU8::MIN);
        let multiplier = match p.multiplier.map(Int::get) {
            None => default_mult,
            Some(m) => match u8::try_from(m).ok().and_then(NonZeroU8::new) {
                Some(m) => m,
                None => {
                    // RFC 5880 §4.1: Detect Mult is one octet; §6.8.6 discards zero.
                    self.err(
                        &path.key("multiplier"),
                        format!("the detect multiplier must be 1..=255 (RFC 5880 §4.1), got {m}"),
                    );
                    default_mult
                }
            },
        };
        BfdSettings {
            profile: None,
            min_rx,
            min_tx,
            multiplier,
            passive: p.passive.unwrap_or(false),
        }
    }

    fn bfd_interval(&mut self, v: Option<&crate::raw::IntOrStr>, path: &FieldPath) -> Duration {
        let Some(v) = v else {
            return DEFAULT_BFD_INTERVAL;
        };
        match self.check(path, parse_duration(v)) {
            Some(d) if (MIN_BFD_INTERVAL..=MAX_BFD_INTERVAL).contains(&d) => d,
            Some(d) => {
                self.err(
                    path,
                    format!(
                        "a BFD interval must be {}ms..={}s, got {}ms (a bare number means \
                         seconds; write \"300ms\")",
                        MIN_BFD_INTERVAL.as_millis(),
                        MAX_BFD_INTERVAL.as_secs(),
                        d.as_millis()
                    ),
                );
                DEFAULT_BFD_INTERVAL
            }
            None => DEFAULT_BFD_INTERVAL,
        }
    }
}
