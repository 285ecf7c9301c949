//! One decoded BGP message of any type (RFC 4271 §4).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, HeaderError};
use crate::header::{frame_len, put_header, KEEPALIVE_LEN};
use crate::iana::{AttrType, Family, MessageType};
use crate::notification::Notification;
use crate::open::Open;
use crate::route_refresh::RouteRefresh;
use crate::session::SessionContext;
use crate::update::{UpdateView, UpdateVisitor, Verdict};

/// A decoded message. UPDATEs stay a checked view over the received bytes; the other
/// types are small and decoded into owned values.
#[derive(Debug, Clone)]
pub enum Message {
    /// RFC 4271 §4.2.
    Open(Open),
    /// RFC 4271 §4.3.
    Update(UpdateView<Bytes>),
    /// RFC 4271 §4.5.
    Notification(Notification),
    /// RFC 4271 §4.4.
    Keepalive,
    /// RFC 2918 §3, RFC 7313 §3.2.
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// The message type.
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::OPEN,
            Message::Update(_) => MessageType::UPDATE,
            Message::Notification(_) => MessageType::NOTIFICATION,
            Message::Keepalive => MessageType::KEEPALIVE,
            Message::RouteRefresh(_) => MessageType::ROUTE_REFRESH,
        }
    }
}

/// Decodes one framed message (`msg` is exactly one message, header included, as
/// [`frame_len`] delimited it).
///
/// The header is checked again against `cx.max_message_len()`, so `decode` is safe on
/// arbitrary input too; a `msg` whose length differs from its length field is 1/2 (but a
/// NOTIFICATION with a bad length is [`DecodeError::BadNotification`]: it must not be
/// answered, RFC 4271 §6.4). An
/// UPDATE is checked by [`UpdateView::new_checked`]; its RFC 7606 verdict is on the view.
pub fn decode(msg: Bytes, cx: &SessionContext) -> Result<Message, DecodeError> {
    let kind = check_header(&msg, cx)?;
    decode_body(kind, msg, cx)
}

/// What [`decode_with`] made of one message. The RFC 7606 verdict of an UPDATE is in the
/// variant, so a caller reaches the visited values only by matching on it.
#[must_use = "an UPDATE's values are only valid when its verdict is accept (RFC 7606 §2)"]
#[derive(Debug)]
pub enum Decoded<V> {
    /// An UPDATE whose verdict is accept: `values` received every value of the message,
    /// exactly what [`UpdateView`]'s accessors report. An attribute discarded under RFC 7606
    /// §2 ("attribute discard") was never visited. There is no view here: returning one costs
    /// about half as much again as the whole fused walk (docs/benchmarks.md); for
    /// [`UpdateView::discarded`] or the raw attributes, use [`decode`] (or
    /// `UpdateView::new_checked(msg, cx)`).
    Update {
        /// The visitor, after every value of the message.
        values: V,
        /// `Some(family)` when the message is an End-of-RIB marker (RFC 4724 §2), as
        /// [`UpdateView::end_of_rib`].
        end_of_rib: Option<Family>,
        /// The message, header included.
        msg: Bytes,
    },
    /// An UPDATE to treat as withdraw (RFC 7606 §2): every prefix in it, withdrawn or
    /// announced, is to be handled as withdrawn; [`UpdateView::prefixes`] lists them. The
    /// visitor saw the values before the verdict was known and has been dropped.
    WithdrawAll {
        /// The checked view over the message.
        view: UpdateView<Bytes>,
        /// The attribute that caused it (or the missing one).
        attr: AttrType,
        /// Why, with the RFC section.
        reason: &'static str,
    },
    /// Not an UPDATE: an OPEN, NOTIFICATION, KEEPALIVE or ROUTE-REFRESH whose header passed
    /// the checks; [`decode`] it. (Kept as `Bytes` rather than a decoded [`Message`]: a
    /// `Message` in this enum makes every UPDATE slower, docs/benchmarks.md.)
    Other(Bytes),
}

/// Checks one framed message's header as [`decode`] does and an UPDATE in one fused walk that
/// checks it and hands every value to `visitor` on the way ([`UpdateView::decode_with`]):
/// prefixes, next hops, ORIGIN, AS_PATH, MED, LOCAL_PREF, communities, ... This is the fast
/// way to read UPDATEs: nothing is walked twice and nothing is allocated. Other message types
/// come back as [`Decoded::Other`] for [`decode`].
///
/// The visitor is taken by value and handed back only with an accept verdict
/// ([`Decoded::Update`]); on treat-as-withdraw it is dropped, so values that RFC 7606 §2 says
/// to ignore cannot be used by mistake. Build a fresh visitor for each message (or keep the
/// state to reuse outside it and move it in and out).
///
/// ```
/// use bgp_proto::attr::Nlri;
/// use bgp_proto::{decode_with, Decoded, SessionContext, UpdateVisitor};
/// use bytes::Bytes;
///
/// /// What we keep of an UPDATE: its prefixes.
/// #[derive(Default)]
/// struct Prefixes(Vec<String>, Vec<String>);
/// impl UpdateVisitor for Prefixes {
///     fn announced(&mut self, n: Nlri) {
///         self.0.push(n.prefix.to_string());
///     }
///     fn withdrawn(&mut self, n: Nlri) {
///         self.1.push(n.prefix.to_string());
///     }
/// }
///
/// let msg = Bytes::from_static(&[
///     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
///     0xff, 0xff, 0x00, 0x19, 0x02, // header: length 25, UPDATE
///     0x00, 0x02, 0x08, 0x0a, // Withdrawn Routes: 10.0.0.0/8
///     0x00, 0x00, // no path attributes, no NLRI
/// ]);
/// let cx = SessionContext::for_capture(true, false);
/// match decode_with(msg, &cx, Prefixes::default())? {
///     Decoded::Update { values, .. } => assert_eq!(values.1, ["10.0.0.0/8"]),
///     Decoded::WithdrawAll { reason, .. } => panic!("treat-as-withdraw: {reason}"),
///     Decoded::Other(m) => panic!("not an UPDATE: {:?}", bgp_proto::decode(m, &cx)?.kind()),
/// }
/// # Ok::<(), bgp_proto::DecodeError>(())
/// ```
#[inline(always)]
pub fn decode_with<V: UpdateVisitor>(
    msg: Bytes,
    cx: &SessionContext,
    mut visitor: V,
) -> Result<Decoded<V>, DecodeError> {
    match check_header(&msg, cx)? {
        MessageType::UPDATE => {
            // The walk runs on the slice (see `UpdateView::rebuf`).
            let checked = UpdateView::decode_with(&msg[..], cx, &mut visitor)?;
            Ok(match checked.verdict() {
                Verdict::Accept => Decoded::Update {
                    values: visitor,
                    end_of_rib: checked.end_of_rib(),
                    msg,
                },
                Verdict::TreatAsWithdraw { attr, reason } => {
                    let layout = checked.rebuf(());
                    Decoded::WithdrawAll {
                        view: layout.rebuf(msg),
                        attr,
                        reason,
                    }
                }
            })
        }
        _ => Ok(Decoded::Other(msg)),
    }
}

/// The header checks of [`decode`] (RFC 4271 §6.1), again against `cx.max_message_len()`:
/// the message type when `msg` is exactly one well-formed message.
#[inline]
fn check_header(msg: &Bytes, cx: &SessionContext) -> Result<MessageType, DecodeError> {
    let header = match frame_len(msg, cx.max_message_len()) {
        Ok(Some(len)) if len == msg.len() => Ok(()),
        Ok(_) => {
            let declared = msg
                .get(16..18)
                .and_then(|s| s.first_chunk::<2>())
                .map_or(0, |b| u16::from_be_bytes(*b));
            Err(HeaderError::BadLength(declared))
        }
        Err(e) => Err(e),
    };
    match header {
        Ok(()) => Ok(MessageType(msg.get(18).copied().unwrap_or(0))),
        // A NOTIFICATION is never answered with a NOTIFICATION (RFC 4271 §6.4).
        Err(HeaderError::BadLength(_)) if msg.get(18) == Some(&MessageType::NOTIFICATION.0) => {
            Err(DecodeError::BadNotification("bad NOTIFICATION length"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Decodes a message of type `kind` whose header [`check_header`] passed.
fn decode_body(kind: MessageType, msg: Bytes, cx: &SessionContext) -> Result<Message, DecodeError> {
    match kind {
        MessageType::OPEN => Open::decode(&msg).map(Message::Open),
        MessageType::UPDATE => {
            let layout = UpdateView::new_checked(&msg[..], cx)?.rebuf(());
            Ok(Message::Update(layout.rebuf(msg)))
        }
        MessageType::NOTIFICATION => Notification::decode_bytes(&msg).map(Message::Notification),
        MessageType::KEEPALIVE => Ok(Message::Keepalive),
        MessageType::ROUTE_REFRESH => RouteRefresh::decode(&msg).map(Message::RouteRefresh),
        other => Err(HeaderError::BadType(other.0).into()),
    }
}

/// Appends a KEEPALIVE (RFC 4271 §4.4: the header alone) to `dst`.
pub fn encode_keepalive(dst: &mut BytesMut) {
    dst.reserve(KEEPALIVE_LEN);
    put_header(dst, KEEPALIVE_LEN as u16, MessageType::KEEPALIVE);
}
