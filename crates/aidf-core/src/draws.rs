//! What a transaction draws on: the ledger accounts, amounts and caps, decided by the
//! determination and by nothing else.
//!
//! A [`Determination`](crate::Determination) carries its [`Draw`]s; `determine::balance_reads` names the
//! balances a determination must be given before it is made. Both build accounts from canonical
//! parties (destination and headquarters after aliases, the consignee as a [`PartyId`]) and render
//! ledger keys in one place, [`AccountRef::ledger_key`]. The service, the batch and the simulator
//! apply draws; none of them builds a key or a cap.

use std::sync::Arc;

use chrono::Datelike;
use serde::Serialize;

use crate::country::CountryCode;
use crate::party::PartyId;
use crate::regime::Regime;

/// A ledger account a transaction reads or draws on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountRef {
    /// A Tier 2 destination's allocation over the regime's window (global: shared by everyone).
    CountryAllocation {
        /// Destination.
        country: CountryCode,
        /// First year of the window.
        from_year: i32,
        /// Last year of the window.
        to_year: i32,
    },
    /// A consignee's LPP calendar-year total.
    LppAnnual {
        /// The consignee.
        party: PartyId,
        /// Calendar year.
        year: i32,
    },
    /// An NVEU's installed base in a country.
    NveuInstalledBase {
        /// The VEU authorization's id, as claimed.
        veu: Arc<str>,
        /// The country of the site.
        country: CountryCode,
    },
    /// A consignee's cumulative TPP received under AIA (the certification-report trigger).
    AiaCumulative {
        /// The consignee.
        party: PartyId,
    },
    /// TPP licensed beyond a destination's allocation (global, uncapped): what licenses that
    /// BIS granted past the allocation drew over it.
    BeyondAllocation {
        /// Destination.
        country: CountryCode,
        /// First year of the window.
        from_year: i32,
        /// Last year of the window.
        to_year: i32,
    },
}

impl AccountRef {
    /// The ledger key. `scope` is the tenant whose records the account belongs to (the CLI's
    /// is `local`); country allocations are global and ignore it. The scope ends at `@`, which
    /// no tenant id contains, so no tenant's keys are a prefix of another's (and keys need no
    /// escaping in a URL path).
    pub fn ledger_key(&self, scope: &str) -> String {
        match self {
            AccountRef::CountryAllocation {
                country,
                from_year,
                to_year,
            } => format!("country:{country}:{from_year}-{to_year}"),
            AccountRef::LppAnnual { party, year } => format!("lpp:{scope}@{party}:{year}"),
            AccountRef::NveuInstalledBase { veu, country } => {
                format!("nveu:{scope}@{veu}:{country}")
            }
            AccountRef::AiaCumulative { party } => format!("aia:{scope}@{party}"),
            AccountRef::BeyondAllocation {
                country,
                from_year,
                to_year,
            } => format!("country-beyond:{country}:{from_year}-{to_year}"),
        }
    }

    /// For an allocation, the account of what licenses granted past it draw over it.
    pub fn beyond(&self) -> Option<AccountRef> {
        match self {
            AccountRef::CountryAllocation {
                country,
                from_year,
                to_year,
            } => Some(AccountRef::BeyondAllocation {
                country: *country,
                from_year: *from_year,
                to_year: *to_year,
            }),
            _ => None,
        }
    }

    /// The prefixes of every key that belongs to `scope` (for visibility checks).
    pub fn scope_prefixes(scope: &str) -> [String; 3] {
        [
            format!("lpp:{scope}@"),
            format!("nveu:{scope}@"),
            format!("aia:{scope}@"),
        ]
    }

    /// Whether the account is shared by every tenant.
    pub fn is_global(&self) -> bool {
        matches!(
            self,
            AccountRef::CountryAllocation { .. } | AccountRef::BeyondAllocation { .. }
        )
    }

    /// Whether the determination reads the posted total only (installed base, cumulative
    /// receipts) rather than posted plus pending holds (capped allowances).
    pub fn reads_posted_only(&self) -> bool {
        matches!(
            self,
            AccountRef::NveuInstalledBase { .. } | AccountRef::AiaCumulative { .. }
        )
    }
}

/// One draw: `amount_tpp` on `account`, which must stay within `cap_tpp` (none: uncapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Draw {
    /// The account.
    pub account: AccountRef,
    /// TPP drawn.
    pub amount_tpp: u64,
    /// The account's cap under the regime on this date (none: uncapped).
    pub cap_tpp: Option<u64>,
}

/// The destination's allocation account under `regime` (regimes with allocations).
pub(crate) fn allocation_account(regime: &Regime, dest: CountryCode) -> Option<AccountRef> {
    regime
        .spec
        .allocation
        .as_ref()
        .map(|a| AccountRef::CountryAllocation {
            country: dest,
            from_year: a.window_start.year(),
            to_year: a.window_end.year(),
        })
}
