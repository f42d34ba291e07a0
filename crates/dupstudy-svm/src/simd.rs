//! Run-time choice of the instruction set for the two hot loops (kernel rows and kernel
//! sums).
//!
//! The loops are written once, in plain Rust that the compiler vectorizes, and compiled
//! three times: for the x86-64 baseline (SSE2), for AVX2 and for AVX-512F. The widest one
//! the processor supports runs. No fused multiply-add is enabled, so every version performs
//! the same IEEE operations in the same order and gives bit-identical results: a seed fixes
//! every result on any x86-64 machine.

/// The instruction sets the hot loops are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// SSE2 (any x86-64), or another architecture.
    Baseline,
    /// AVX2.
    Avx2,
    /// AVX-512 Foundation.
    Avx512,
}

/// The widest instruction set this processor supports (detected once).
pub(crate) fn isa() -> Isa {
    static ISA: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
    *ISA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("DUPSTUDY_SIMD").is_some_and(|v| v == "baseline") {
                return Isa::Baseline;
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    })
}

/// The name of the instruction set in use, for logs and benchmark reports.
pub fn instruction_set() -> &'static str {
    match isa() {
        Isa::Baseline => "baseline",
        Isa::Avx2 => "avx2",
        Isa::Avx512 => "avx512f",
    }
}

/// Calls `$self.$body(args...)` (an `#[inline(always)]` method) through a copy compiled
/// for the widest available instruction set.
macro_rules! dispatch {
    ($self:ident . $body:ident ( $($arg:expr),* $(,)? )) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512<T>(f: impl FnOnce() -> T) -> T {
                f()
            }
            #[target_feature(enable = "avx2")]
            fn avx2<T>(f: impl FnOnce() -> T) -> T {
                f()
            }
            match $crate::simd::isa() {
                #[allow(unsafe_code)]
                // SAFETY: `isa()` returned Avx512 only after `is_x86_feature_detected!`
                // confirmed that this processor supports AVX-512F.
                $crate::simd::Isa::Avx512 => unsafe { avx512(|| $self.$body($($arg),*)) },
                #[allow(unsafe_code)]
                // SAFETY: `isa()` returned Avx2 only after `is_x86_feature_detected!`
                // confirmed that this processor supports AVX2.
                $crate::simd::Isa::Avx2 => unsafe { avx2(|| $self.$body($($arg),*)) },
                $crate::simd::Isa::Baseline => $self.$body($($arg),*),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $self.$body($($arg),*)
        }
    }};
}
pub(crate) use dispatch;
