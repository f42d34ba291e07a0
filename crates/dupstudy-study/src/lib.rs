//! The duplicates study as a library: every study is one folder behind one trait, and one
//! driver plans, runs, saves, resumes and summarizes them all.
//!
//! ```
//! use dupstudy_study::claims::{Rule, Verdict};
//!
//! // A claim of no gain is judged against a margin, as an equivalence test is.
//! assert_eq!(Rule::NoGainBeyond(0.01).judge(-0.004, 0.006), Verdict::Holds);
//! assert_eq!(Rule::NoGainBeyond(0.01).judge(-0.001, 0.047), Verdict::Inconclusive);
//! // The registry holds every study by name.
//! let names: Vec<&str> = dupstudy_study::registry().iter().map(|s| s.name()).collect();
//! assert_eq!(names, ["gaussian", "cifar-standard", "cifar-adversarial", "cifar-natural", "cifar-privacy"]);
//! ```
//!
//! Modules: [`study`] (the [`Study`] trait), [`driver`] (claim, run, save, resume,
//! summarize), [`store`] (cell files and ids), [`seeding`] (keyed random streams),
//! [`profile`] (profiles and the shared flags), [`data`] (finding CIFAR-10), [`table`]
//! (summaries), [`claims`] (rules and verdicts), [`report`] and [`figure`] (the report
//! model), [`manifest`], [`progress`], [`error`], and the studies in [`studies`], one folder
//! each (`mod`, `plan`, `run`, `claims`, `summary`, `seeds`, ...), with the CNN cell code
//! they share in [`studies::cnn`].

pub mod claims;
pub mod data;
pub mod driver;
pub mod error;
pub mod figure;
pub mod manifest;
pub mod profile;
pub mod progress;
pub mod reference;
pub mod report;
pub mod seeding;
pub mod store;
pub mod studies;
pub mod study;
pub mod table;

pub use driver::{AnyStudy, Plans};
pub use error::{Result, StudyError};
pub use profile::{Env, Overrides, Profile, Request};
pub use progress::Progress;
pub use study::{CellIo, Computed, Estimate, Study, StudySummary};

/// Every study, in report order. Adding a study is one folder in [`studies`] and one line
/// here (the crate's `tests/toy_study.rs` is a whole one).
pub fn registry() -> Vec<Box<dyn AnyStudy>> {
    use studies::cifar::{CifarStudy, Network};
    vec![
        Box::new(studies::gaussian::GaussianStudy),
        Box::new(CifarStudy::new(Network::Standard)),
        Box::new(CifarStudy::new(Network::Adversarial)),
        Box::new(studies::natural::NaturalStudy),
        Box::new(studies::privacy::PrivacyStudy),
    ]
}

/// The study named `name`.
///
/// # Errors
/// [`StudyError::UnknownStudy`] listing the registry's names.
pub fn find_study(name: &str) -> Result<Box<dyn AnyStudy>> {
    let all = registry();
    let known = all.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ");
    all.into_iter()
        .find(|s| s.name() == name)
        .ok_or(StudyError::UnknownStudy {
            name: name.to_string(),
            known,
        })
}
