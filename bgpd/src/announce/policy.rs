//! The announce policy: what each service means right now, given what control knows (where
//! it comes from, `bgpctl withdraw`, health verdicts, drain). Pure: control gathers the
//! inputs under its lock and calls [`verdict`]; the reasons stay values ([`Withheld`],
//! [`Announced`]) until `bgpctl` or a metric displays them.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;

use bgp_proto::Community;

use crate::config::{NextHopSpec, OnFail, Service};
use crate::health::{Health, Target};

/// Where a service comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A `[[services]]` entry of the configuration file.
    Config,
    /// `bgpctl announce` (kept in the state file).
    Runtime,
}

impl Source {
    /// "config" or "runtime", as the API, metrics labels and explanations show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Runtime => "runtime",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The drain step of the whole speaker (RFC 8326, `bgpctl drain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrainStep {
    /// Routes are sent as configured.
    Normal,
    /// Routes carry GRACEFUL_SHUTDOWN (and LOCAL_PREF 0 on iBGP) until the withdraw.
    Draining,
    /// Every route is withdrawn.
    Drained,
}

/// What the health check of one service says now: a snapshot of control's probes.
#[derive(Debug, Clone)]
pub struct HealthInput<'a> {
    /// What a failing check does to the service.
    pub on_fail: &'a OnFail,
    /// The check's `disable_file` exists (`disable_file` names it).
    pub disabled: bool,
    /// The `disable_file` path, for the explanation.
    pub disable_file: Option<&'a Path>,
    /// Each probed target and its verdict.
    pub targets: Vec<(&'a Target, Health)>,
}

/// Everything [`verdict`] reads besides the service.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// Configured or runtime service.
    pub source: Source,
    /// The speaker's drain step.
    pub drain: DrainStep,
    /// A configured service withdrawn with `bgpctl withdraw`.
    pub suppressed: bool,
    /// The service's health check (configured services only).
    pub health: Option<HealthInput<'a>>,
}

/// How a service is treated right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<'a> {
    /// Send the service's routes.
    Announce {
        /// Borrowed unless health or drain changed it.
        service: Cow<'a, Service>,
        /// Why it is sent as it is.
        state: Announced<'a>,
    },
    /// Do not send it, and why.
    Withheld(Withheld<'a>),
}

/// Why an announced service is sent as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Announced<'a> {
    /// What health checks changed.
    pub health: HealthEffect<'a>,
    /// Draining: GRACEFUL_SHUTDOWN until the withdraw (RFC 8326).
    pub draining: bool,
}

/// What health checks changed about an announced service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HealthEffect<'a> {
    /// Nothing: sent as configured.
    Full,
    /// Every target fails and `on_fail` demotes it.
    Demoted(Failing<'a>),
    /// Only the next hops whose checks pass are sent.
    Partial {
        /// Next hops whose checks pass.
        healthy: usize,
        /// Next hops checked.
        of: usize,
        /// The next hops that fail.
        failing: Failing<'a>,
    },
}

/// Why a service is not announced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Withheld<'a> {
    /// The speaker is drained (`bgpctl drain` ran its course).
    Drained,
    /// `bgpctl withdraw` of a configured service.
    ByApi,
    /// The health check's disable file exists.
    Disabled(Option<&'a Path>),
    /// Every target fails and `on_fail` withdraws it.
    HealthFailing(Failing<'a>),
}

/// The targets of a check that are not up, with their verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing<'a>(pub Vec<(&'a Target, Health)>);

impl Hash for Failing<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        for (t, health) in &self.0 {
            t.nexthop.hash(h);
            (*health as u8).hash(h);
        }
    }
}

/// The verdict on `svc` with `inputs`.
pub fn verdict<'a>(svc: &'a Service, inputs: &Inputs<'a>) -> Verdict<'a> {
    if inputs.drain == DrainStep::Drained {
        return Verdict::Withheld(Withheld::Drained);
    }
    if inputs.source == Source::Config && inputs.suppressed {
        return Verdict::Withheld(Withheld::ByApi);
    }
    let mut service = Cow::Borrowed(svc);
    let mut effect = HealthEffect::Full;
    if let (Some(h), Source::Config) = (&inputs.health, inputs.source) {
        if h.disabled {
            return Verdict::Withheld(Withheld::Disabled(h.disable_file));
        }
        let single = h.targets.iter().all(|(t, _)| t.nexthop.is_none());
        let healthy: Vec<usize> = if single {
            if h.targets.iter().all(|(_, s)| *s == Health::Up) {
                (0..svc.nexthops.len()).collect()
            } else {
                Vec::new()
            }
        } else {
            h.targets
                .iter()
                .filter(|(_, s)| *s == Health::Up)
                .filter_map(|(t, _)| t.nexthop)
                .collect()
        };
        let failing = || {
            Failing(
                h.targets
                    .iter()
                    .filter(|(_, s)| *s != Health::Up)
                    .copied()
                    .collect(),
            )
        };
        if healthy.is_empty() {
            match h.on_fail {
                OnFail::Withdraw => return Verdict::Withheld(Withheld::HealthFailing(failing())),
                OnFail::Demote {
                    med,
                    communities,
                    as_path_prepend,
                } => {
                    let s = service.to_mut();
                    if med.is_some() {
                        s.med = *med;
                    }
                    s.communities = s.communities.iter().chain(communities).copied().collect();
                    s.as_path_prepend = s.as_path_prepend.saturating_add(*as_path_prepend).min(64);
                    effect = HealthEffect::Demoted(failing());
                }
            }
        } else if healthy.len() < svc.nexthops.len() {
            // A failing next hop keeps its position, so the healthy ones keep their ADD-PATH
            // path ids (RFC 7911); it is never sent.
            service.to_mut().nexthops = svc
                .nexthops
                .iter()
                .enumerate()
                .map(|(i, nh)| {
                    if healthy.contains(&i) {
                        *nh
                    } else {
                        NextHopSpec::Failing
                    }
                })
                .collect();
            effect = HealthEffect::Partial {
                healthy: healthy.len(),
                of: svc.nexthops.len(),
                failing: failing(),
            };
        }
    }
    let draining = inputs.drain == DrainStep::Draining;
    if draining {
        let s = service.to_mut();
        if !s.communities.contains(&Community::GRACEFUL_SHUTDOWN) {
            s.communities = s
                .communities
                .iter()
                .copied()
                .chain([Community::GRACEFUL_SHUTDOWN])
                .collect();
        }
        // RFC 8326 §4: LOCAL_PREF 0 towards iBGP peers (announce sends it on iBGP only).
        s.local_pref = Some(0);
    }
    Verdict::Announce {
        service,
        state: Announced {
            health: effect,
            draining,
        },
    }
}

impl Verdict<'_> {
    /// True when the service is sent (possibly demoted or with fewer next hops).
    pub fn is_announced(&self) -> bool {
        matches!(self, Verdict::Announce { .. })
    }

    /// The state as `bgpctl services` and `explain` show it.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Announce { state, .. } => state.to_string(),
            Verdict::Withheld(w) => w.to_string(),
        }
    }

    /// Tells states apart without making their text (a changed state restarts "since").
    pub fn state_key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match self {
            Verdict::Announce { state, .. } => (0u8, state).hash(&mut h),
            Verdict::Withheld(w) => (1u8, w).hash(&mut h),
        }
        h.finish()
    }
}

impl fmt::Display for Failing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (t, health)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", t.describe(), health.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Display for Announced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.health {
            HealthEffect::Full => f.write_str("announced")?,
            HealthEffect::Demoted(failing) => {
                write!(f, "demoted: health check failing ({failing})")?
            }
            HealthEffect::Partial {
                healthy,
                of,
                failing,
            } => write!(
                f,
                "announced with {healthy} of {of} next hops ({failing} failing)"
            )?,
        }
        if self.draining {
            f.write_str(", draining: GRACEFUL_SHUTDOWN 65535:0 until the withdraw")?;
        }
        Ok(())
    }
}

impl fmt::Display for Withheld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withheld::Drained => {
                f.write_str("drained: withdrawn (bgpctl undrain to announce again)")
            }
            Withheld::ByApi => f.write_str("withdrawn by bgpctl withdraw"),
            Withheld::Disabled(file) => write!(
                f,
                "disabled: {} exists",
                file.map(|p| p.display().to_string()).unwrap_or_default()
            ),
            Withheld::HealthFailing(failing) => {
                write!(f, "withdrawn: health check failing ({failing})")
            }
        }
    }
}
