//! One test per (state, event) of RFC 5880 §6.8.6 that matters, asserting the exact actions.
//! Names read `<state>_<event>_<outcome>`.

use super::*;
use crate::Discard;

fn detection(at: Instant) -> Action {
    Action::StartTimer {
        timer: Timer::Detection,
        at,
    }
}

fn polling(mut p: ControlPacket) -> ControlPacket {
    p.poll = true;
    p
}

fn finals(mut p: ControlPacket) -> ControlPacket {
    p.final_ = true;
    p
}

fn transmit_delay(s: &Session, from: Instant) -> Duration {
    s.timer(Timer::Transmit).unwrap() - from
}

fn params(tx_ms: u64, rx_ms: u64) -> Event {
    Event::SetParameters {
        desired_min_tx: Duration::from_millis(tx_ms),
        required_min_rx: Duration::from_millis(rx_ms),
        detect_mult: mult(3),
    }
}

// ---- AdminDown (new session, §6.8.16) ----------------------------------------------------

#[test]
fn admin_down_start_goes_down_and_sends_slowly() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.state(), State::AdminDown);
    assert_eq!(s.next_timeout(), None);
    let actions = s.handle(ms(0), Event::Start);
    assert_eq!(
        actions,
        vec![
            changed(State::AdminDown, State::Down, Diagnostic::NONE),
            send(&ours(State::Down, Diagnostic::NONE, 0)),
            started(&s, Timer::Transmit),
        ]
    );
    // §6.8.3: one second while not Up, jittered to 75-100% (§6.8.7).
    let d = transmit_delay(&s, ms(0));
    assert!(
        d >= Duration::from_millis(750) && d <= Duration::from_secs(1),
        "{d:?}"
    );
    assert_eq!(s.desired_min_tx(), Duration::from_secs(1));
    assert_eq!(s.counters().packets_out, 1);
}

#[test]
fn admin_down_passive_start_stays_silent() {
    let mut c = config();
    c.passive = true;
    let mut s = Session::new(c, 1);
    assert_eq!(
        s.handle(ms(0), Event::Start),
        vec![changed(State::AdminDown, State::Down, Diagnostic::NONE)]
    );
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn admin_down_received_is_discarded_and_counted() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.handle(ms(0), received(&remote(State::Up))), vec![]);
    assert_eq!(s.state(), State::AdminDown);
    assert_eq!(s.counters().dropped.admin_down, 1);
    assert_eq!(s.counters().packets_in, 0);
    // The remote system's values were recorded before the discard (§6.8.6 order).
    assert_eq!(s.remote_state(), State::Up);
}

#[test]
fn admin_down_stop_is_ignored() {
    let mut s = Session::new(config(), 1);
    assert_eq!(s.handle(ms(0), Event::Stop), vec![]);
    assert_eq!(s.handle(ms(0), Event::TimerFired(Timer::Transmit)), vec![]);
    assert_eq!(s.local_diag(), Diagnostic::NONE);
}

// ---- Down ----------------------------------------------------------------------------------

#[test]
fn down_start_is_ignored() {
    let mut s = down();
    assert_eq!(s.handle(ms(5), Event::Start), vec![]);
}

#[test]
fn down_received_down_goes_init() {
    let mut s = down();
    let mut p = remote(State::Down);
    p.your_discriminator = 0;
    let actions = s.handle(ms(10), received(&p));
    assert_eq!(
        actions,
        vec![
            // §6.8.4: 3 x max(our 300 ms, their 1 s).
            detection(ms(3010)),
            changed(State::Down, State::Init, Diagnostic::NONE),
            send(&ours(State::Init, Diagnostic::NONE, REMOTE)),
            started(&s, Timer::Transmit),
        ]
    );
    assert_eq!(s.remote_discr(), REMOTE);
    assert_eq!(s.remote_state(), State::Down);
    assert_eq!(s.counters().packets_in, 1);
}

#[test]
fn down_received_init_goes_up_and_polls_for_the_fast_rate() {
    let mut s = down();
    let actions = s.handle(ms(10), received(&remote(State::Init)));
    assert_eq!(
        actions,
        vec![
            detection(ms(3010)),
            changed(State::Down, State::Up, Diagnostic::NONE),
            // §6.8.3: DesiredMinTxInterval changes from 1 s to 300 ms: a Poll Sequence.
            send(&polling(ours(State::Up, Diagnostic::NONE, REMOTE))),
            started(&s, Timer::Transmit),
        ]
    );
    assert!(s.poll_in_progress());
    assert_eq!(s.counters().up, 1);
    // A decrease applies at once: 300 ms (remote Required Min RX 300 ms).
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(300));
    let d = transmit_delay(&s, ms(10));
    assert!(
        d >= Duration::from_millis(225) && d <= Duration::from_millis(300),
        "{d:?}"
    );
}

#[test]
fn down_received_up_stays_down() {
    let mut s = down();
    let actions = s.handle(ms(10), received(&remote(State::Up)));
    assert_eq!(actions, vec![detection(ms(910))]);
    assert_eq!(s.state(), State::Down);
}

#[test]
fn down_received_admin_down_stays_down() {
    let mut s = down();
    let actions = s.handle(ms(10), received(&remote(State::AdminDown)));
    assert_eq!(actions, vec![detection(ms(3010))]);
    assert_eq!(s.state(), State::Down);
    assert_eq!(s.local_diag(), Diagnostic::NONE);
}

#[test]
fn down_transmit_expires_sends_and_rearms() {
    let mut s = down();
    let deadline = s.timer(Timer::Transmit).unwrap();
    // Early and spurious firings do nothing.
    assert_eq!(
        s.handle(
            deadline - Duration::from_millis(1),
            Event::TimerFired(Timer::Transmit)
        ),
        vec![]
    );
    assert_eq!(
        s.handle(deadline, Event::TimerFired(Timer::Detection)),
        vec![]
    );
    let actions = s.handle(deadline, Event::TimerFired(Timer::Transmit));
    assert_eq!(
        actions,
        vec![
            send(&ours(State::Down, Diagnostic::NONE, 0)),
            started(&s, Timer::Transmit)
        ]
    );
    // Late duplicate.
    assert_eq!(
        s.handle(deadline, Event::TimerFired(Timer::Transmit)),
        vec![]
    );
    // handle_timeout does the same as TimerFired.
    let next = s.next_timeout().unwrap();
    assert_eq!(sent(&s.handle_timeout(next)).len(), 1);
}

#[test]
fn down_detection_expires_forgets_remote_discriminator() {
    let mut s = down();
    s.handle(ms(10), received(&remote(State::Up)));
    assert_eq!(s.remote_discr(), REMOTE);
    let actions = s.handle(ms(910), Event::TimerFired(Timer::Detection));
    assert_eq!(actions, vec![]);
    assert_eq!(s.remote_discr(), 0);
    assert_eq!(s.state(), State::Down);
}

#[test]
fn down_passive_received_starts_sending_and_stops_when_remote_gone() {
    let mut c = config();
    c.passive = true;
    let mut s = down_with(c);
    let actions = s.handle(ms(10), received(&remote(State::Up)));
    // §6.1: the passive system now knows bfd.RemoteDiscr and may send.
    assert_eq!(
        actions,
        vec![
            detection(ms(910)),
            send(&ours(State::Down, Diagnostic::NONE, REMOTE)),
            started(&s, Timer::Transmit),
        ]
    );
    let actions = s.handle(ms(910), Event::TimerFired(Timer::Detection));
    assert_eq!(actions, vec![Action::StopTimer(Timer::Transmit)]);
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn down_received_poll_answers_final() {
    let mut s = down();
    let mut p = polling(remote(State::Up));
    p.your_discriminator = LOCAL;
    let actions = s.handle(ms(10), received(&p));
    assert_eq!(
        actions,
        vec![
            detection(ms(910)),
            send(&finals(ours(State::Down, Diagnostic::NONE, REMOTE))),
        ]
    );
}

#[test]
fn down_received_zero_min_rx_stops_periodic_transmission() {
    let mut s = down();
    let mut p = remote(State::Down);
    p.required_min_rx = 0;
    let actions = s.handle(ms(10), received(&p));
    // §6.8.7: "MUST NOT periodically transmit [...] if bfd.RemoteMinRxInterval is zero."
    assert_eq!(
        actions,
        vec![
            detection(ms(3010)),
            changed(State::Down, State::Init, Diagnostic::NONE),
            Action::StopTimer(Timer::Transmit),
        ]
    );
    // Back to nonzero: transmission resumes at once.
    let actions = s.handle(ms(20), received(&remote(State::Down)));
    assert_eq!(
        actions,
        vec![
            detection(ms(3020)),
            send(&ours(State::Init, Diagnostic::NONE, REMOTE)),
            started(&s, Timer::Transmit),
        ]
    );
}

// ---- Init ----------------------------------------------------------------------------------

#[test]
fn init_received_up_goes_up() {
    let mut s = init();
    let actions = s.handle(ms(20), received(&remote(State::Up)));
    assert_eq!(
        actions,
        vec![
            detection(ms(920)),
            changed(State::Init, State::Up, Diagnostic::NONE),
            send(&polling(ours(State::Up, Diagnostic::NONE, REMOTE))),
            started(&s, Timer::Transmit),
        ]
    );
}

#[test]
fn init_received_init_goes_up() {
    let mut s = init();
    let actions = s.handle(ms(20), received(&remote(State::Init)));
    assert_eq!(
        actions[1],
        changed(State::Init, State::Up, Diagnostic::NONE)
    );
    assert_eq!(s.state(), State::Up);
}

#[test]
fn init_received_down_stays_init() {
    let mut s = init();
    let actions = s.handle(ms(20), received(&remote(State::Down)));
    assert_eq!(actions, vec![detection(ms(3020))]);
    assert_eq!(s.state(), State::Init);
}

#[test]
fn init_received_admin_down_goes_down_neighbor_signaled() {
    let mut s = init();
    let actions = s.handle(ms(20), received(&remote(State::AdminDown)));
    let diag = Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN;
    assert_eq!(
        actions,
        vec![
            detection(ms(3020)),
            changed(State::Init, State::Down, diag),
            send(&ours(State::Down, diag, REMOTE)),
            started(&s, Timer::Transmit),
        ]
    );
}

#[test]
fn init_detection_expires_goes_down() {
    let mut s = init();
    let actions = s.handle(ms(3010), Event::TimerFired(Timer::Detection));
    let diag = Diagnostic::CONTROL_DETECTION_TIME_EXPIRED;
    assert_eq!(
        actions,
        vec![
            changed(State::Init, State::Down, diag),
            send(&ours(State::Down, diag, 0)),
            started(&s, Timer::Transmit),
        ]
    );
    assert_eq!(s.remote_discr(), 0);
}

// ---- Up ------------------------------------------------------------------------------------

#[test]
fn up_final_ends_poll() {
    let mut s = init();
    s.handle(ms(20), received(&remote(State::Up)));
    assert!(s.poll_in_progress());
    let actions = s.handle(ms(30), received(&finals(remote(State::Up))));
    assert_eq!(actions, vec![detection(ms(930))]);
    assert!(!s.poll_in_progress());
    assert_eq!(s.counters().polls, 1);
    // Periodic packets no longer carry P.
    let t = s.timer(Timer::Transmit).unwrap();
    let actions = s.handle(t, Event::TimerFired(Timer::Transmit));
    assert_eq!(
        sent(&actions),
        vec![ours(State::Up, Diagnostic::NONE, REMOTE)]
    );
}

#[test]
fn up_received_up_restarts_detection_only() {
    let mut s = up();
    let actions = s.handle(ms(100), received(&remote(State::Up)));
    assert_eq!(actions, vec![detection(ms(1000))]);
    assert_eq!(s.detection_time(), Some(Duration::from_millis(900)));
}

#[test]
fn up_received_down_goes_down_neighbor_signaled() {
    let mut s = up();
    let actions = s.handle(ms(100), received(&remote(State::Down)));
    let diag = Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN;
    assert_eq!(
        actions,
        vec![
            detection(ms(3100)),
            changed(State::Up, State::Down, diag),
            // Back to the 1 s rate (§6.8.3): a change, so a Poll.
            send(&polling(ours(State::Down, diag, REMOTE))),
            started(&s, Timer::Transmit),
        ]
    );
    assert_eq!(s.counters().down, 1);
    assert_eq!(s.negotiated_tx_interval(), Duration::from_secs(1));
}

#[test]
fn up_received_admin_down_goes_down_neighbor_signaled() {
    let mut s = up();
    let actions = s.handle(ms(100), received(&remote(State::AdminDown)));
    assert_eq!(
        actions[1],
        changed(
            State::Up,
            State::Down,
            Diagnostic::NEIGHBOR_SIGNALED_SESSION_DOWN
        )
    );
    // And stays Down while the remote system is AdminDown.
    let actions = s.handle(ms(200), received(&remote(State::AdminDown)));
    assert_eq!(actions, vec![detection(ms(3200))]);
    assert_eq!(s.state(), State::Down);
}

#[test]
fn up_detection_expires_goes_down() {
    let mut s = up();
    let deadline = s.timer(Timer::Detection).unwrap();
    assert_eq!(deadline, ms(930));
    let actions = s.handle(deadline, Event::TimerFired(Timer::Detection));
    let diag = Diagnostic::CONTROL_DETECTION_TIME_EXPIRED;
    assert_eq!(
        actions,
        vec![
            changed(State::Up, State::Down, diag),
            send(&polling(ours(State::Down, diag, 0))),
            started(&s, Timer::Transmit),
        ]
    );
}

#[test]
fn up_received_poll_answers_final_without_poll_bit() {
    let mut s = up();
    let transmit = s.timer(Timer::Transmit);
    // We have a Poll of our own running: the Final still carries no P (§6.5).
    s.handle(ms(50), params(250, 300));
    assert!(s.poll_in_progress());
    let actions = s.handle(ms(100), received(&polling(remote(State::Up))));
    let mut fin = finals(ours(State::Up, Diagnostic::NONE, REMOTE));
    fin.desired_min_tx = 250 * MS;
    assert_eq!(actions, vec![detection(ms(1000)), send(&fin)]);
    // The periodic schedule is untouched.
    assert_eq!(s.timer(Timer::Transmit), transmit);
}

#[test]
fn up_tx_interval_is_the_larger_of_ours_and_remote_min_rx() {
    let mut s = up();
    let mut p = remote(State::Up);
    p.required_min_rx = 500 * MS;
    p.desired_min_tx = 400 * MS;
    p.detect_mult = 5;
    s.handle(ms(100), received(&p));
    // §6.8.2: max(300 ms, 500 ms).
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(500));
    // §6.8.4: 5 x max(our 300 ms, their 400 ms).
    assert_eq!(s.detection_time(), Some(Duration::from_secs(2)));
}

#[test]
fn up_set_parameters_increase_waits_for_final() {
    let mut s = up();
    // §6.5: no extra packet, the Poll rides on the periodic ones.
    assert_eq!(s.handle(ms(100), params(1000, 300)), vec![]);
    assert!(s.poll_in_progress());
    assert_eq!(s.desired_min_tx(), Duration::from_secs(1));
    // §6.8.3: the increase waits for the Final.
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(300));
    let t = s.timer(Timer::Transmit).unwrap();
    let actions = s.handle(t, Event::TimerFired(Timer::Transmit));
    let mut p = polling(ours(State::Up, Diagnostic::NONE, REMOTE));
    p.desired_min_tx = 1000 * MS;
    assert_eq!(actions, vec![send(&p), started(&s, Timer::Transmit)]);
    s.handle(t, received(&finals(remote(State::Up))));
    assert_eq!(s.negotiated_tx_interval(), Duration::from_secs(1));
    assert_eq!(s.state(), State::Up);
}

#[test]
fn up_set_parameters_decrease_applies_at_once() {
    let mut s = up();
    let mut p = remote(State::Up);
    p.required_min_rx = 50 * MS;
    s.handle(ms(40), received(&p));
    s.handle(ms(100), params(100, 300));
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(100));
    // The periodic schedule follows at once: the next packet within 100 ms.
    assert!(s.timer(Timer::Transmit).unwrap() <= ms(200));
}

#[test]
fn up_set_parameters_reduced_rx_keeps_detection_until_final() {
    let mut s = up();
    let mut p = remote(State::Up);
    p.desired_min_tx = 50 * MS;
    s.handle(ms(40), received(&p));
    assert_eq!(s.detection_time(), Some(Duration::from_millis(900)));
    s.handle(ms(100), params(300, 50));
    assert_eq!(s.required_min_rx(), Duration::from_millis(50));
    // §6.8.3: the previous RequiredMinRxInterval until the Poll ends.
    assert_eq!(s.detection_time(), Some(Duration::from_millis(900)));
    let actions = s.handle(ms(150), received(&finals(p)));
    assert_eq!(s.detection_time(), Some(Duration::from_millis(150)));
    assert_eq!(actions, vec![detection(ms(300))]);
}

#[test]
fn up_set_parameters_increased_rx_applies_at_once() {
    let mut s = up();
    s.handle(ms(100), params(300, 1000));
    assert_eq!(s.detection_time(), Some(Duration::from_secs(3)));
}

#[test]
fn up_set_parameters_during_poll_polls_again() {
    let mut s = up();
    s.handle(ms(100), params(500, 300));
    s.handle(ms(110), params(800, 300));
    // The Final answers the first Poll (500 ms): only that much applies, and a second Poll
    // announces 800 ms.
    s.handle(ms(120), received(&finals(remote(State::Up))));
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(500));
    assert!(s.poll_in_progress());
    s.handle(ms(130), received(&finals(remote(State::Up))));
    assert_eq!(s.negotiated_tx_interval(), Duration::from_millis(800));
    assert!(!s.poll_in_progress());
    assert_eq!(s.counters().polls, 3);
}

#[test]
fn up_detect_mult_one_jitters_between_75_and_90_percent() {
    let mut c = config();
    c.detect_mult = mult(1);
    let mut s = down_with(c);
    s.handle(ms(10), received(&remote(State::Init)));
    assert_eq!(s.state(), State::Up);
    let mut now = ms(10);
    for _ in 0..200 {
        let t = s.timer(Timer::Transmit).unwrap();
        let d = t - now;
        assert!(
            d >= Duration::from_millis(225) && d <= Duration::from_millis(270),
            "{d:?}"
        );
        now = t;
        s.handle(now, Event::TimerFired(Timer::Transmit));
    }
}

#[test]
fn up_stop_sends_admin_down_then_falls_silent() {
    let mut s = up();
    let actions = s.handle(ms(100), Event::Stop);
    let diag = Diagnostic::ADMINISTRATIVELY_DOWN;
    let admin = ours(State::AdminDown, diag, REMOTE);
    assert_eq!(
        actions,
        vec![
            changed(State::Up, State::AdminDown, diag),
            Action::StopTimer(Timer::Detection),
            send(&admin),
            send(&admin),
            send(&admin),
            started(&s, Timer::Transmit),
        ]
    );
    assert_eq!(s.local_diag(), diag);
    // §6.8.16: keep sending for a Detection Time (3 x 1 s), then stop.
    let mut n = 0;
    while let Some(t) = s.next_timeout() {
        let actions = s.handle(t, Event::TimerFired(Timer::Transmit));
        for p in sent(&actions) {
            assert_eq!(p, admin);
            assert!(t < ms(3100));
            n += 1;
        }
    }
    assert!((3..=4).contains(&n), "{n}");
    // Packets are discarded while AdminDown.
    assert_eq!(s.handle(ms(5000), received(&remote(State::Up))), vec![]);
    assert_eq!(s.counters().dropped.admin_down, 1);
}

#[test]
fn up_path_down_sends_admin_down_with_path_down() {
    let mut s = up();
    let actions = s.handle(ms(100), Event::PathDown);
    assert_eq!(
        actions[0],
        changed(State::Up, State::AdminDown, Diagnostic::PATH_DOWN)
    );
    assert_eq!(sent(&actions)[0].diag, Diagnostic::PATH_DOWN);
}

#[test]
fn admin_down_start_after_stop_goes_down_afresh() {
    let mut s = up();
    s.handle(ms(100), Event::Stop);
    let actions = s.handle(ms(200), Event::Start);
    assert_eq!(
        actions,
        vec![
            changed(State::AdminDown, State::Down, Diagnostic::NONE),
            send(&ours(State::Down, Diagnostic::NONE, 0)),
            started(&s, Timer::Transmit),
        ]
    );
    assert_eq!(s.detection_time(), None);
}

// ---- Discards (§6.8.6) --------------------------------------------------------------------

#[test]
fn up_received_wrong_your_discriminator_is_discarded() {
    let mut s = up();
    let mut p = remote(State::Up);
    p.your_discriminator = 0x99;
    assert_eq!(s.handle(ms(100), received(&p)), vec![]);
    assert_eq!(s.counters().dropped.your_discriminator, 1);
    assert_eq!(s.counters().dropped.total(), 1);
}

#[test]
fn up_received_authentication_is_discarded() {
    let mut s = up();
    let mut p = remote(State::Up);
    p.auth = Some(crate::Authentication {
        auth_type: crate::AuthType::KEYED_SHA1,
        data: vec![0; 26],
    });
    assert_eq!(s.handle(ms(100), received(&p)), vec![]);
    assert_eq!(s.counters().dropped.get(Discard::Authentication), 1);
}

#[test]
fn up_received_malformed_is_discarded_per_reason() {
    let mut s = up();
    let good = encode(&remote(State::Up)).to_vec();
    let cases: [(usize, u8, Discard); 6] = [
        (0, 0x40, Discard::Version),
        (3, 23, Discard::Length),
        (2, 0, Discard::DetectMult),
        (1, 0xc1, Discard::Multipoint),
        (7, 0, Discard::MyDiscriminatorZero),
        (11, 0, Discard::YourDiscriminatorZero),
    ];
    for (at, value, reason) in cases {
        let mut b = good.clone();
        b[at] = value;
        assert_eq!(s.handle(ms(100), Event::Received(b.into())), vec![]);
        assert_eq!(s.counters().dropped.get(reason), 1, "{reason:?}");
    }
    assert_eq!(s.counters().dropped.total(), 6);
    assert_eq!(s.state(), State::Up);
}

/// `transmit_slack` (a driver that serves deadlines up to 30 ms late, at 300 ms): every
/// deadline lies 75-90 % of the interval after the send, `serve_by` is 30 ms after it, so a
/// packet sent as late as allowed is still at most 100 % of the interval after the last one
/// (§6.8.7); the Detection deadline gets no slack.
#[test]
fn up_transmit_slack_keeps_the_jittered_interval_within_75_to_100_percent() {
    let mut c = config();
    c.transmit_slack = Duration::from_millis(30);
    let mut s = down_with(c);
    s.handle(ms(10), received(&remote(State::Init)));
    assert_eq!(s.state(), State::Up);
    let mut sent = ms(10);
    let (mut shortest, mut longest) = (Duration::MAX, Duration::ZERO);
    for i in 0..400 {
        let t = s.timer(Timer::Transmit).unwrap();
        let by = s.serve_by().unwrap();
        assert_eq!(by - t, Duration::from_millis(30));
        // Serve it at its deadline, or as late as allowed, in turns.
        let at = if i % 2 == 0 { t } else { by };
        let gap = at - sent;
        assert!(
            gap >= Duration::from_millis(225) && gap <= Duration::from_millis(300),
            "{gap:?}"
        );
        shortest = shortest.min(gap);
        longest = longest.max(gap);
        // Keep the session Up: the remote system's packet just before.
        s.handle(at, received(&remote(State::Up)));
        let actions = s.handle_timeout(at);
        assert!(actions.iter().any(|a| matches!(a, Action::Send(_))));
        sent = at;
    }
    // The jitter keeps its spread.
    assert!(shortest < Duration::from_millis(232), "{shortest:?}");
    assert!(longest > Duration::from_millis(290), "{longest:?}");
    // Detection gets none: serve_by is the Detection deadline once that is earlier.
    let detect = s.timer(Timer::Detection).unwrap();
    s.handle_timeout(s.timer(Timer::Transmit).unwrap());
    while s.timer(Timer::Transmit).unwrap() + Duration::from_millis(30) < detect {
        let t = s.timer(Timer::Transmit).unwrap();
        s.handle_timeout(t);
    }
    assert_eq!(s.serve_by(), Some(detect));
}

/// The slack is capped at a tenth of the interval (here 300 ms: 30 ms), so the jitter keeps
/// most of its range; with Detect Mult 1 the top is 90 %.
#[test]
fn transmit_slack_is_capped_at_a_tenth_of_the_interval() {
    let mut c = config();
    c.transmit_slack = Duration::from_secs(1);
    c.detect_mult = mult(1);
    let mut s = down_with(c);
    s.handle(ms(10), received(&remote(State::Init)));
    let mut now = ms(10);
    for _ in 0..200 {
        let t = s.timer(Timer::Transmit).unwrap();
        assert_eq!(s.serve_by().unwrap() - t, Duration::from_millis(30));
        let d = t - now;
        assert!(
            d >= Duration::from_millis(225) && d <= Duration::from_millis(240),
            "{d:?}"
        );
        now = t;
        s.handle(now, received(&remote(State::Up)));
        s.handle(now, Event::TimerFired(Timer::Transmit));
    }
}

/// `handle_into`, `receive_into` and `handle_timeout_into` give what `handle` and
/// `handle_timeout` give, appended to the caller's vector.
#[test]
fn into_variants_match_the_allocating_ones() {
    let (mut a, mut b) = (down(), down());
    let mut out = vec![Action::StopTimer(Timer::Detection)];
    let p = encode(&remote(State::Down));
    let expected = a.handle(ms(10), Event::Received(p.clone()));
    b.receive_into(ms(10), &p, &mut out);
    assert_eq!(out.get(1..), Some(&expected[..]));
    out.clear();
    let expected = a.handle_timeout(ms(2000));
    b.handle_timeout_into(ms(2000), &mut out);
    assert_eq!(out, expected);
    assert!(!out.is_empty());
    out.clear();
    let expected = a.handle(ms(2100), Event::Stop);
    b.handle_into(ms(2100), Event::Stop, &mut out);
    assert_eq!(out, expected);
}
