//! What an invocation asks for: a profile of defaults and the flags that override them.

use std::path::PathBuf;
use std::str::FromStr;

/// A named set of defaults for every study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Everything on tiny data, for CI (seconds).
    Smoke,
    /// The default: every study reduced to fit about an hour on 2 cores.
    Quick,
    /// The paper's protocol at full size.
    Paper,
    /// The paper's protocol with more seeds and every control.
    Full,
    /// The standard-training claims decided at the paper's protocol on a CPU: all 50,000
    /// images, 30 epochs, uniform D-rates 0, 30, 60, 90, the equal-steps control at 90 and
    /// class-weighted duplicates at 60 with 7 seeds, the notebook's whole copies at 30 once
    /// (the CIFAR standard study only).
    PaperStandard,
    /// The adversarial claims decided at the paper's protocol on a CPU: all 50,000 images,
    /// 30 epochs, PGD-10 training, uniform D-rates 0, 30, 60 with Madry's attack and with the
    /// paper code's attack, 3 seeds each, clean and robust accuracy on all 10,000 test images
    /// (the CIFAR adversarial study only).
    PaperAdversarial,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 6] = [
        Profile::Smoke,
        Profile::Quick,
        Profile::Paper,
        Profile::Full,
        Profile::PaperStandard,
        Profile::PaperAdversarial,
    ];

    /// The name used in paths and the report.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Smoke => "smoke",
            Profile::Quick => "quick",
            Profile::Paper => "paper",
            Profile::Full => "full",
            Profile::PaperStandard => "paper-standard",
            Profile::PaperAdversarial => "paper-adversarial",
        }
    }

    /// Whether every study runs under this profile when `--study` names none (the
    /// single-study profiles run only the study that [claims](crate::Study::in_profile)
    /// them).
    pub fn runs_every_study(self) -> bool {
        matches!(
            self,
            Profile::Smoke | Profile::Quick | Profile::Paper | Profile::Full
        )
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!("expected one of {}, got `{text}`", names.join(", "))
            })
    }
}

/// The flags that override a profile's defaults (`None`: the profile's value): the ones
/// every study reads, and each study's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Seeds per cell.
    pub seeds: Option<u64>,
    /// D-rates in percent.
    pub d_rates: Option<Vec<f64>>,
    /// Each study's own flags.
    pub study: crate::studies::StudyFlags,
}

/// What a study plans from.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The profile.
    pub profile: Profile,
    /// The flags' overrides.
    pub overrides: Overrides,
}

/// Where a run takes its data and device from, and what it records about itself.
#[derive(Clone)]
pub struct Env {
    /// CIFAR-10, when a study needs it and it was found.
    pub data: Option<std::sync::Arc<crate::data::DataSet>>,
    /// The CNN's compute device.
    pub device: candle_core::Device,
    /// The code revision, recorded in every cell.
    pub revision: String,
    /// The results folder.
    pub out: PathBuf,
    /// Where work outside the cells reports its progress (a study's preparation in
    /// [`crate::Study::context`], e.g. the natural-duplicates study's audit).
    pub progress: std::sync::Arc<dyn crate::progress::Progress>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("data", &self.data.as_ref().map(|d| &d.description))
            .field("device", &self.device)
            .field("revision", &self.revision)
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}
