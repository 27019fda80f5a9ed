//! Deterministic demo manifests.
//!
//! The generator is SplitMix64, written out here so that a seed gives the
//! same manifest with every version of every dependency. It is not meant for
//! anything secret.

use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};

use super::db;
use super::parcels;
use crate::protocol::ManifestParcel;

const SURNAMES: &[&str] =
    &["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun"];

const GIVEN_NAMES: &[&str] = &[
    "Wei", "Na", "Fang", "Min", "Jing", "Lei", "Qiang", "Jun", "Yan", "Hao", "Xiu", "Ying", "Tao",
    "Ming", "Li", "Hui",
];

const COURIERS: &[&str] = &["ZTO", "YTO", "SF", "STO", "Yunda", "EMS"];

/// Shortest and longest collection period in days, counted from the day of
/// seeding.
const DEADLINE_DAYS: (u64, u64) = (3, 7);

/// SplitMix64, as published by Sebastiano Vigna.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number below `bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Generates a demo manifest of `count` parcels. Barcodes run `JJD0001`,
/// `JJD0002`, … with at least four digits. Deadlines fall 3 to 7 days after
/// midnight (UTC) of `today`'s date; everything else depends only on `seed`.
pub fn manifest(count: usize, seed: u64, today: DateTime<Utc>) -> Vec<ManifestParcel> {
    let width = count.to_string().len().max(4);
    let midnight = Utc.from_utc_datetime(&today.date_naive().and_time(NaiveTime::MIN));
    let mut rng = SplitMix64(seed);
    (1..=count)
        .map(|number| {
            let days = DEADLINE_DAYS.0 + rng.below(DEADLINE_DAYS.1 - DEADLINE_DAYS.0 + 1);
            ManifestParcel {
                barcode: format!("JJD{number:0width$}"),
                order_id: format!("MO{}{:04}{number:0width$}", midnight.year(), rng.below(10_000)),
                customer_masked: masked_name(&mut rng),
                phone_last4: format!("{:04}", rng.below(10_000)),
                courier: rng.pick(COURIERS).to_string(),
                deadline: Some(midnight + Duration::days(days as i64) + Duration::hours(22)),
            }
        })
        .collect()
}

/// Returns a name as the counter shows it: the surname, then the given name
/// with its first letter hidden, or hidden whole for one customer in four.
fn masked_name(rng: &mut SplitMix64) -> String {
    let surname = rng.pick(SURNAMES);
    let given = rng.pick(GIVEN_NAMES);
    if rng.below(4) == 0 { format!("{surname} *") } else { format!("{surname} *{}", &given[1..]) }
}

/// Maximum number of parcels one seed run announces. The whole manifest is
/// built in memory and returned, so the bound keeps memory use to an
/// estimated few tens of megabytes. Seed another store for more parcels.
pub const MAX_SEED_PARCELS: usize = 100_000;

/// Announces a demo manifest of `parcels` parcels to `store` in the database
/// at `db_path`, creating the store and the database when missing. Barcodes
/// the store already has are left as they are, so seeding twice adds
/// nothing. Returns the store's rows for the manifest's barcodes.
///
/// Fails on an invalid store id, on more than [`MAX_SEED_PARCELS`] parcels,
/// or when the database cannot be written.
pub fn seed(
    db_path: &Path,
    store: &str,
    parcels: usize,
    seed: u64,
) -> anyhow::Result<Vec<ManifestParcel>> {
    if parcels > MAX_SEED_PARCELS {
        anyhow::bail!(
            "{parcels} parcels is more than the {MAX_SEED_PARCELS} one seed run announces; \
             use a smaller --parcels"
        );
    }
    let now = Utc::now();
    let mut conn = db::open(db_path)?;
    let tx = conn.transaction()?;
    db::ensure_store(&tx, store, now)?;
    let mut stored = Vec::with_capacity(parcels);
    let mut added = 0;
    for parcel in manifest(parcels, seed, now) {
        if parcels::announce(&tx, store, &parcel, now)? {
            added += 1;
            stored.push(parcel);
        } else if let Some(existing) = parcels::find(&tx, store, &parcel.barcode)? {
            stored.push(as_manifest_parcel(existing));
        }
    }
    tx.commit()?;
    tracing::info!(store_id = store, added, kept = stored.len() - added, "manifest seeded");
    Ok(stored)
}

fn as_manifest_parcel(record: parcels::ParcelRecord) -> ManifestParcel {
    ManifestParcel {
        barcode: record.barcode,
        order_id: record.order_id,
        customer_masked: record.customer_masked,
        phone_last4: record.phone_last4.unwrap_or_default(),
        courier: record.courier,
        deadline: record.deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    #[test]
    fn same_seed_same_manifest() {
        assert_eq!(manifest(20, 9, today()), manifest(20, 9, today()));
    }

    #[test]
    fn other_seed_other_manifest() {
        assert_ne!(manifest(20, 9, today()), manifest(20, 10, today()));
    }

    #[test]
    fn barcodes_pad_to_four_digits() {
        let barcodes: Vec<_> = manifest(2, 1, today()).into_iter().map(|p| p.barcode).collect();
        assert_eq!(barcodes, ["JJD0001", "JJD0002"]);
    }

    #[test]
    fn barcodes_widen_past_9999() {
        let parcels = manifest(10_000, 1, today());
        assert_eq!(parcels[0].barcode, "JJD00001");
        assert_eq!(parcels[9_999].barcode, "JJD10000");
    }

    #[test]
    fn names_are_masked() {
        for parcel in manifest(50, 3, today()) {
            assert!(parcel.customer_masked.contains(" *"), "{}", parcel.customer_masked);
        }
    }

    #[test]
    fn phone_has_four_digits() {
        for parcel in manifest(50, 3, today()) {
            assert!(parcels::check_manifest_parcel(&parcel).is_ok(), "{parcel:?}");
        }
    }

    #[test]
    fn deadlines_fall_days_ahead() {
        for parcel in manifest(50, 3, today()) {
            let days = (parcel.deadline.unwrap() - today()).num_days();
            assert!((2..=7).contains(&days), "{days}");
        }
    }

    #[test]
    fn huge_seed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db");
        let err = seed(&path, "S1", usize::MAX, 1).unwrap_err();
        assert!(err.to_string().contains("smaller --parcels"), "{err}");
        assert!(!path.exists(), "a refused seed must not create the database");
    }

    #[test]
    fn seeding_twice_adds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mall.db");
        let first = seed(&path, "S1", 5, 1).unwrap();
        let second = seed(&path, "S1", 5, 1).unwrap();
        let conn = db::open(&path).unwrap();
        assert_eq!(first, second);
        assert_eq!(parcels::list(&conn, Some("S1")).unwrap().len(), 5);
    }
}
