//! The run manifest: what produced a results folder.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Everything needed to tell how a results folder was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Profile name.
    pub profile: String,
    /// The command line.
    pub command: Vec<String>,
    /// `git describe`-like revision of the workspace, with `-dirty` when it has changes.
    pub git_revision: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    /// Seconds the run took (filled in at the end).
    #[serde(default)]
    pub wall_seconds: Option<f64>,
    /// Seconds the run was estimated to take at its start, for the work not yet done then.
    pub estimated_seconds: f64,
    /// Where it ran.
    pub device: Device,
    /// Versions of the crates that computed the results.
    pub crates: Vec<(String, String)>,
    /// The studies' configurations.
    pub configuration: serde_json::Value,
    /// Data sets used, with checksums.
    pub data: serde_json::Value,
}

/// The machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    /// CPU model.
    pub cpu: String,
    /// The CPU's vector extensions that the numeric kernels choose between at run time (a
    /// speed fact: every one gives the same bits).
    pub vector_extensions: Vec<String>,
    /// Logical cores available.
    pub cores: usize,
    /// Worker threads used.
    pub threads: usize,
    /// The compute device of the CNN studies.
    pub compute: String,
    /// The CPU's family, model, caches and the CNN kernel path (absent in manifests from
    /// before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
}

/// The CPU a result was computed on, as `lscpu` names it, and the CNN kernel path it
/// selects. Results are meant to be identical on every CPU (see the CNN crate's golden
/// test); this says which one made them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` of `/proc/cpuinfo`.
    pub cpu: String,
    /// `vendor_id` of `/proc/cpuinfo`.
    pub vendor: String,
    /// `cpu family` (AMD: 25 Zen 3/Zen 4, 26 Zen 5).
    pub family: Option<u32>,
    /// `model`.
    pub model: Option<u32>,
    /// The microarchitecture where the family, model and extensions tell it (AMD; Intel's
    /// server and desktop models this project has run on).
    pub microarchitecture: Option<String>,
    /// Cache sizes of CPU 0, e.g. `L1d 32K`, `L2 1024K`.
    pub caches: Vec<String>,
    /// The CNN convolution kernels under the default (`fast`) setting and the instruction
    /// set they run on here (older manifests: `direct AVX-512` or `portable`, two numerics).
    pub cnn_kernels: String,
}

impl Machine {
    /// This machine.
    pub fn this() -> Self {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let family = field("cpu family").and_then(|v| v.parse().ok());
        let vendor = field("vendor_id").unwrap_or_else(|| "unknown".into());
        let avx512 = vector_extensions().iter().any(|e| e == "avx512f");
        let model = field("model").and_then(|v| v.parse().ok());
        Self {
            cpu: field("model name").unwrap_or_else(|| "unknown".into()),
            microarchitecture: microarchitecture(&vendor, family, model, avx512),
            vendor,
            family,
            model,
            caches: caches(),
            cnn_kernels: format!("direct ({})", dupstudy_cnn::Kernels::vector_isa()),
        }
    }

    /// One line for reports: `AMD EPYC (Zen 4, family 25 model 17; L2 1024K)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        // Records from before a model was named get its name from the same table.
        let arch = self.microarchitecture.clone().or_else(|| {
            microarchitecture(
                &self.vendor,
                self.family,
                self.model,
                // `direct (avx512f)`, or `direct AVX-512` in older manifests.
                self.cnn_kernels
                    .to_ascii_lowercase()
                    .replace('-', "")
                    .contains("avx512"),
            )
        });
        if let Some(arch) = arch {
            parts.push(arch);
        }
        if let (Some(f), Some(m)) = (self.family, self.model) {
            parts.push(format!("family {f} model {m}"));
        }
        let l2 = self.caches.iter().find(|c| c.starts_with("L2"));
        match (parts.is_empty(), l2) {
            (true, None) => self.cpu.clone(),
            (_, l2) => format!(
                "{} ({}{})",
                self.cpu,
                parts.join(", "),
                l2.map_or(String::new(), |c| format!("; {c}"))
            ),
        }
    }
}

/// AMD's family numbers: 25 is Zen 3 or Zen 4 (only Zen 4 has AVX-512), 26 Zen 5; Intel's
/// family 6 by model (where one model number is one microarchitecture).
fn microarchitecture(
    vendor: &str,
    family: Option<u32>,
    model: Option<u32>,
    avx512: bool,
) -> Option<String> {
    match (vendor, family) {
        // Family 23 (17h): models 0x30 and up are Zen 2 (Rome, Matisse...), below Zen/Zen+.
        ("AuthenticAMD", Some(23)) => Some(match model {
            Some(m) if m >= 0x30 => "Zen 2".into(),
            Some(_) => "Zen/Zen+".into(),
            None => "Zen/Zen 2".into(),
        }),
        ("AuthenticAMD", Some(25)) => Some(if avx512 { "Zen 4" } else { "Zen 3" }.into()),
        ("AuthenticAMD", Some(26)) => Some("Zen 5".into()),
        ("GenuineIntel", Some(6)) => match model? {
            106 | 108 => Some("Ice Lake".into()),
            143 => Some("Sapphire Rapids".into()),
            167 => Some("Rocket Lake".into()),
            173 => Some("Granite Rapids".into()),
            207 => Some("Emerald Rapids".into()),
            // 85 is Skylake-SP, Cascade Lake or Cooper Lake: the model alone does not say.
            _ => None,
        },
        _ => None,
    }
}

/// `L1d 32K`, `L1i 32K`, `L2 1024K`, `L3 32768K` from sysfs (empty where it is absent).
fn caches() -> Vec<String> {
    let base = Path::new("/sys/devices/system/cpu/cpu0/cache");
    let mut out = Vec::new();
    for index in 0..8 {
        let dir = base.join(format!("index{index}"));
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size"))
        else {
            continue;
        };
        let suffix = match kind.as_str() {
            "Data" => "d",
            "Instruction" => "i",
            _ => "",
        };
        out.push(format!("L{level}{suffix} {size}"));
    }
    out
}

// `git_revision`, in a file of its own that xtask's build script includes too (it records
// the revision a binary is built from by the same rule).
include!("revision.rs");

/// The CPU model from `/proc/cpuinfo`, or `unknown`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The vector extensions of this CPU that matter for the numeric kernels, widest first.
pub fn vector_extensions() -> Vec<String> {
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let checks: [(&str, bool); 5] = [
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("fma", std::arch::is_x86_feature_detected!("fma")),
            ("avx", std::arch::is_x86_feature_detected!("avx")),
            ("sse4.1", std::arch::is_x86_feature_detected!("sse4.1")),
        ];
        found.extend(
            checks
                .iter()
                .filter(|(_, has)| *has)
                .map(|(name, _)| name.to_string()),
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon".to_string());
        }
    }
    found
}

/// Versions of the workspace crates and of the external crates that matter for results,
/// read from `Cargo.lock`.
pub fn crate_versions(root: &Path) -> Vec<(String, String)> {
    let mut out = vec![(
        "dupstudy".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )];
    if let Ok(lock) = std::fs::read_to_string(root.join("Cargo.lock")) {
        let mut name: Option<String> = None;
        for line in lock.lines() {
            if let Some(n) = line.strip_prefix("name = ") {
                name = Some(n.trim_matches('"').to_string());
            } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
                && [
                    "candle-core",
                    "candle-nn",
                    "rand",
                    "rand_chacha",
                    "rand_distr",
                ]
                .contains(&n.as_str())
            {
                out.push((n, v.trim_matches('"').to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amd_families_name_their_microarchitecture() {
        let amd = "AuthenticAMD";
        assert_eq!(
            microarchitecture(amd, Some(25), Some(17), true).as_deref(),
            Some("Zen 4")
        );
        assert_eq!(
            microarchitecture(amd, Some(25), Some(33), false).as_deref(),
            Some("Zen 3")
        );
        assert_eq!(
            microarchitecture(amd, Some(26), Some(2), true).as_deref(),
            Some("Zen 5")
        );
        assert_eq!(
            microarchitecture(amd, Some(23), Some(49), false).as_deref(),
            Some("Zen 2")
        );
        assert_eq!(
            microarchitecture("GenuineIntel", Some(6), Some(85), true),
            None
        );
        assert_eq!(
            microarchitecture("GenuineIntel", Some(6), Some(106), true).as_deref(),
            Some("Ice Lake")
        );
    }

    #[test]
    fn a_record_without_a_name_is_described_by_its_family_and_model() {
        let machine = Machine {
            cpu: "Intel(R) Xeon(R) Processor @ 2.80GHz".into(),
            vendor: "GenuineIntel".into(),
            family: Some(6),
            model: Some(106),
            microarchitecture: None,
            caches: vec!["L1d 48K".into(), "L2 1280K".into()],
            cnn_kernels: "direct (avx512f)".into(),
        };
        assert_eq!(
            machine.describe(),
            "Intel(R) Xeon(R) Processor @ 2.80GHz (Ice Lake, family 6 model 106; L2 1280K)"
        );
        let zen = Machine {
            cpu: "AMD EPYC".into(),
            vendor: "AuthenticAMD".into(),
            family: Some(25),
            model: Some(1),
            cnn_kernels: "direct (avx2+fma)".into(),
            ..machine
        };
        assert!(zen.describe().contains("(Zen 3, family 25 model 1;"));
    }

    #[test]
    fn this_machine_is_described() {
        let m = Machine::this();
        assert!(!m.cpu.is_empty() && !m.cnn_kernels.is_empty());
        let line = m.describe();
        assert!(line.starts_with(&m.cpu), "{line}");
        if let Some(arch) = &m.microarchitecture {
            assert!(line.contains(arch.as_str()), "{line}");
        }
    }
}
