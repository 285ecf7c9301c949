//! One decoded BGP message of any type (RFC 4271 §4).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, HeaderError};
use crate::header::{frame_len, put_header, KEEPALIVE_LEN};
use crate::iana::MessageType;
use crate::notification::Notification;
use crate::open::Open;
use crate::route_refresh::RouteRefresh;
use crate::session::SessionContext;
use crate::update::UpdateView;

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
    let declared = msg
        .get(16..18)
        .and_then(|s| s.first_chunk::<2>())
        .map_or(0, |b| u16::from_be_bytes(*b));
    let is_notification = msg.get(18) == Some(&MessageType::NOTIFICATION.0);
    let header = match frame_len(&msg, cx.max_message_len()) {
        Ok(Some(len)) if len == msg.len() => Ok(()),
        Ok(_) => Err(HeaderError::BadLength(declared)),
        Err(e) => Err(e),
    };
    match header {
        Ok(()) => {}
        // A NOTIFICATION is never answered with a NOTIFICATION (RFC 4271 §6.4).
        Err(HeaderError::BadLength(_)) if is_notification => {
            return Err(DecodeError::BadNotification("bad NOTIFICATION length"))
        }
        Err(e) => return Err(e.into()),
    }
    let kind = MessageType(msg.get(18).copied().unwrap_or(0));
    match kind {
        MessageType::OPEN => Open::decode(&msg).map(Message::Open),
        MessageType::UPDATE => UpdateView::new_checked(msg, cx).map(Message::Update),
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
