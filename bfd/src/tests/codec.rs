//! Byte vectors for the Control packet (RFC 5880 §4.1), tested in both directions: the view
//! reads every field (deconstruct), and the owned value encodes to the same octets
//! (construct). Then one vector per §6.8.6 discard rule.

use super::*;
use crate::{AuthType, Authentication, Discard};

/// A Down packet as a system starting up sends it: slow transmit interval, no remote
/// discriminator yet.
const CONTROL_DOWN: [u8; 24] = [
    0x20, // Vers 1 (001), Diag 0 (00000): No Diagnostic
    0x40, // Sta 1 (01): Down; P 0, F 0, C 0, A 0, D 0, M 0
    0x03, // Detect Mult 3
    0x18, // Length 24
    0x00, 0x00, 0x00, 0x01, // My Discriminator 1
    0x00, 0x00, 0x00, 0x00, // Your Discriminator 0 (not yet known)
    0x00, 0x0f, 0x42, 0x40, // Desired Min TX Interval 1,000,000 µs (§6.8.3 slow rate)
    0x00, 0x04, 0x93, 0xe0, // Required Min RX Interval 300,000 µs
    0x00, 0x00, 0xc3, 0x50, // Required Min Echo RX Interval 50,000 µs
];

/// An Up packet starting a Poll Sequence, C bit set.
const CONTROL_UP_POLL_CPI: [u8; 24] = [
    0x20, // Vers 1, Diag 0
    0xe8, // Sta 3 (11): Up; P 1, F 0, C 1, A 0, D 0, M 0
    0x05, // Detect Mult 5
    0x18, // Length 24
    0x00, 0x00, 0x00, 0xaa, // My Discriminator 170
    0x00, 0x00, 0x00, 0x01, // Your Discriminator 1
    0x00, 0x00, 0xc3, 0x50, // Desired Min TX Interval 50,000 µs
    0x00, 0x01, 0x86, 0xa0, // Required Min RX Interval 100,000 µs
    0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval 0: no Echo
];

/// An AdminDown packet with the Final bit answering a Poll.
const CONTROL_ADMIN_DOWN_FINAL: [u8; 24] = [
    0x27, // Vers 1, Diag 7 (00111): Administratively Down
    0x10, // Sta 0 (00): AdminDown; P 0, F 1, C 0, A 0, D 0, M 0
    0x03, // Detect Mult 3
    0x18, // Length 24
    0x12, 0x34, 0x56, 0x78, // My Discriminator 0x12345678
    0x9a, 0xbc, 0xde, 0xf0, // Your Discriminator 0x9abcdef0
    0x00, 0x0f, 0x42, 0x40, // Desired Min TX Interval 1,000,000 µs
    0x00, 0x00, 0x00, 0x00, // Required Min RX Interval 0: send nothing (§6.8.18)
    0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval 0
];

/// An Init packet with a Simple Password Authentication Section (§4.2).
const CONTROL_INIT_SIMPLE_PASSWORD: [u8; 31] = [
    0x21, // Vers 1, Diag 1 (00001): Control Detection Time Expired
    0x84, // Sta 2 (10): Init; P 0, F 0, C 0, A 1, D 0, M 0
    0x03, // Detect Mult 3
    0x1f, // Length 31 = 24 + 7
    0x00, 0x00, 0x00, 0x02, // My Discriminator 2
    0x00, 0x00, 0x00, 0x03, // Your Discriminator 3
    0x00, 0x0f, 0x42, 0x40, // Desired Min TX Interval 1,000,000 µs
    0x00, 0x0f, 0x42, 0x40, // Required Min RX Interval 1,000,000 µs
    0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval 0
    0x01, // Auth Type 1: Simple Password
    0x07, // Auth Len 7 (type, len, key id, 4 octets of password)
    0x05, // Auth Key ID 5
    b'b', b'f', b'd', b'!', // Password "bfd!"
];

#[test]
fn control_down_deconstruct() {
    let v = ControlView::new_checked(&CONTROL_DOWN[..]).unwrap();
    assert_eq!(v.version(), 1);
    assert_eq!(v.diag(), Diagnostic::NONE);
    assert_eq!(v.state(), State::Down);
    assert!(!v.poll() && !v.final_() && !v.control_plane_independent());
    assert!(!v.authentication_present() && !v.demand() && !v.multipoint());
    assert_eq!(v.detect_mult(), 3);
    assert_eq!(v.length(), 24);
    assert_eq!(v.my_discriminator(), 1);
    assert_eq!(v.your_discriminator(), 0);
    assert_eq!(v.desired_min_tx(), 1_000_000);
    assert_eq!(v.required_min_rx(), 300_000);
    assert_eq!(v.required_min_echo_rx(), 50_000);
    assert_eq!(v.auth_type(), None);
    assert_eq!(v.auth_data(), None);
}

#[test]
fn control_down_construct() {
    let p = ControlPacket {
        diag: Diagnostic::NONE,
        state: State::Down,
        detect_mult: 3,
        my_discriminator: 1,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 50_000,
        ..ControlPacket::default()
    };
    assert_eq!(p.encoded_len(), 24);
    assert_eq!(&encode(&p)[..], &CONTROL_DOWN[..]);
}

#[test]
fn control_up_poll_cpi_both_directions() {
    let v = ControlView::new_checked(&CONTROL_UP_POLL_CPI[..]).unwrap();
    let p = ControlPacket {
        state: State::Up,
        poll: true,
        control_plane_independent: true,
        detect_mult: 5,
        my_discriminator: 170,
        your_discriminator: 1,
        desired_min_tx: 50_000,
        required_min_rx: 100_000,
        ..ControlPacket::default()
    };
    assert!(v.poll() && !v.final_() && v.control_plane_independent());
    assert_eq!(v.to_owned(), p);
    assert_eq!(&encode(&p)[..], &CONTROL_UP_POLL_CPI[..]);
}

#[test]
fn control_admin_down_final_both_directions() {
    let v = ControlView::new_checked(&CONTROL_ADMIN_DOWN_FINAL[..]).unwrap();
    let p = ControlPacket {
        diag: Diagnostic::ADMINISTRATIVELY_DOWN,
        state: State::AdminDown,
        final_: true,
        detect_mult: 3,
        my_discriminator: 0x1234_5678,
        your_discriminator: 0x9abc_def0,
        desired_min_tx: 1_000_000,
        required_min_rx: 0,
        ..ControlPacket::default()
    };
    assert_eq!(v.diag(), Diagnostic::ADMINISTRATIVELY_DOWN);
    assert_eq!(v.to_owned(), p);
    assert_eq!(&encode(&p)[..], &CONTROL_ADMIN_DOWN_FINAL[..]);
}

#[test]
fn control_init_simple_password_both_directions() {
    let v = ControlView::new_checked(&CONTROL_INIT_SIMPLE_PASSWORD[..]).unwrap();
    assert!(v.authentication_present());
    assert_eq!(v.auth_type(), Some(AuthType::SIMPLE_PASSWORD));
    assert_eq!(v.auth_data(), Some(&[5, b'b', b'f', b'd', b'!'][..]));
    let p = ControlPacket {
        diag: Diagnostic::CONTROL_DETECTION_TIME_EXPIRED,
        state: State::Init,
        detect_mult: 3,
        my_discriminator: 2,
        your_discriminator: 3,
        desired_min_tx: 1_000_000,
        required_min_rx: 1_000_000,
        auth: Some(Authentication {
            auth_type: AuthType::SIMPLE_PASSWORD,
            data: vec![5, b'b', b'f', b'd', b'!'],
        }),
        ..ControlPacket::default()
    };
    assert_eq!(v.to_owned(), p);
    assert_eq!(p.encoded_len(), 31);
    assert_eq!(&encode(&p)[..], &CONTROL_INIT_SIMPLE_PASSWORD[..]);
}

#[test]
fn trailing_padding_is_ignored() {
    let mut b = CONTROL_DOWN.to_vec();
    b.extend_from_slice(&[0xee; 8]);
    let v = ControlView::new_checked(&b[..]).unwrap();
    assert_eq!(v.as_bytes(), &CONTROL_DOWN[..]);
    assert_eq!(&encode(&v.to_owned())[..], &CONTROL_DOWN[..]);
}

#[test]
fn oversized_auth_data_is_truncated_to_fit_length() {
    let p = ControlPacket {
        detect_mult: 1,
        my_discriminator: 1,
        auth: Some(Authentication {
            auth_type: AuthType::KEYED_SHA1,
            data: vec![0x55; 400],
        }),
        ..ControlPacket::default()
    };
    let b = encode(&p);
    assert_eq!(b.len(), 255);
    assert_eq!(p.encoded_len(), 255);
    let v = ControlView::new_checked(&b[..]).unwrap();
    assert_eq!(v.auth_data().unwrap().len(), crate::MAX_AUTH_DATA_LEN);
}

/// `CONTROL_DOWN` with octet `at` set to `value`, then checked.
fn mutated(at: usize, value: u8) -> Result<(), Discard> {
    let mut b = CONTROL_DOWN;
    b[at] = value;
    ControlView::new_checked(&b[..]).map(|_| ())
}

#[test]
fn discard_version_not_one() {
    // Vers 2 (010), Diag 0.
    assert_eq!(mutated(0, 0x40), Err(Discard::Version));
    assert_eq!(mutated(0, 0x00), Err(Discard::Version));
    // Even when too short to hold the mandatory section.
    assert_eq!(
        ControlView::new_checked(&[0x40u8, 0x40][..]),
        Err(Discard::Version)
    );
}

#[test]
fn discard_length_short_long_or_auth() {
    assert_eq!(mutated(3, 23), Err(Discard::Length));
    // Longer than the bytes received.
    assert_eq!(mutated(3, 25), Err(Discard::Length));
    assert_eq!(
        ControlView::new_checked(&CONTROL_DOWN[..20]),
        Err(Discard::Length)
    );
    assert_eq!(ControlView::new_checked(&[][..]), Err(Discard::Length));
    // A bit with Length 24 (< 26).
    assert_eq!(mutated(1, 0x44), Err(Discard::Length));
    // Auth Len reaching past Length.
    let mut b = CONTROL_INIT_SIMPLE_PASSWORD;
    b[25] = 8;
    assert_eq!(ControlView::new_checked(&b[..]), Err(Discard::Length));
    // Auth Len below its own two octets.
    b[25] = 1;
    assert_eq!(ControlView::new_checked(&b[..]), Err(Discard::Length));
}

#[test]
fn discard_detect_mult_zero() {
    assert_eq!(mutated(2, 0), Err(Discard::DetectMult));
}

#[test]
fn discard_multipoint_set() {
    assert_eq!(mutated(1, 0x41), Err(Discard::Multipoint));
}

#[test]
fn discard_my_discriminator_zero() {
    assert_eq!(mutated(7, 0), Err(Discard::MyDiscriminatorZero));
}

#[test]
fn discard_your_discriminator_zero_unless_down() {
    // Sta Init and Up with Your Discriminator 0.
    assert_eq!(mutated(1, 0x80), Err(Discard::YourDiscriminatorZero));
    assert_eq!(mutated(1, 0xc0), Err(Discard::YourDiscriminatorZero));
    // Down and AdminDown may not know it yet.
    assert_eq!(mutated(1, 0x40), Ok(()));
    assert_eq!(mutated(1, 0x00), Ok(()));
}

#[test]
fn diagnostic_is_an_open_set() {
    assert_eq!(
        Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN.to_string(),
        "Neighbor Signaled Session Down"
    );
    assert_eq!(format!("{:?}", Diagnostic(31)), "Diagnostic(31)");
    let mut b = CONTROL_DOWN;
    b[0] = 0x3f; // Vers 1, Diag 31 (unassigned)
    let v = ControlView::new_checked(&b[..]).unwrap();
    assert_eq!(v.diag(), Diagnostic(31));
    assert_eq!(&encode(&v.to_owned())[..], &b[..]);
}
