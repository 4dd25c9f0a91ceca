//! The `reasons!` macro: an enum whose every variant is one counter with a stable name.
//!
//! Mirrors `dataplane::counters`: `ALL` lists the variants in declaration order, `name()` is the
//! short name (`address_mismatch`) and `counter_name()` the exported one, prefixed with the ALG
//! (`alg_ftp_address_mismatch`).

/// Implemented by every failure-reason enum so [`crate::counters::AlgCounters`] can count it.
pub trait Reason: Copy + 'static {
    /// Every variant, in declaration order; `index()` is the position in this list.
    const ALL: &'static [Self];
    /// Counter name prefix of the ALG, e.g. `alg_ftp_`.
    const PREFIX: &'static str;
    /// Exported name of the "messages parsed" counter.
    const MESSAGES: &'static str;
    /// Exported name of the "rewrites applied" counter.
    const REWRITES: &'static str;
    /// Exported name of the "expectations created" counter.
    const EXPECTATIONS: &'static str;
    /// Position of this variant in [`Reason::ALL`].
    fn index(self) -> usize;
    /// Short name, e.g. `address_mismatch`.
    fn name(self) -> &'static str;
    /// Exported counter name, e.g. `alg_ftp_address_mismatch`.
    fn counter_name(self) -> &'static str;
}

macro_rules! reasons {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident : $prefix:literal {
            $($(#[$vm:meta])* $v:ident => $s:literal,)*
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vm])* $v,)* }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v,)*];
            /// Short name, e.g. `address_mismatch`.
            pub const fn name(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }
            /// Exported counter name: the ALG prefix and the short name.
            pub const fn counter_name(self) -> &'static str {
                match self { $($name::$v => concat!($prefix, $s),)* }
            }
        }

        impl $crate::names::Reason for $name {
            const ALL: &'static [Self] = $name::ALL;
            const PREFIX: &'static str = $prefix;
            const MESSAGES: &'static str = concat!($prefix, "messages");
            const REWRITES: &'static str = concat!($prefix, "rewrites");
            const EXPECTATIONS: &'static str = concat!($prefix, "expectations");
            fn index(self) -> usize {
                self as usize
            }
            fn name(self) -> &'static str {
                $name::name(self)
            }
            fn counter_name(self) -> &'static str {
                $name::counter_name(self)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.name())
            }
        }

        const _: () = assert!($name::ALL.len() <= $crate::counters::MAX_REASONS);
    };
}
