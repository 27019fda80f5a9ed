//! The daily report: what each operator did in a time range, counted from
//! the outbox, which keeps every event the terminal recorded.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Desk, DeskError, Result};
use crate::protocol::{EventBody, ReturnCause};
use crate::store::{format_time, outbox};

/// Counts of one operator, or of everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperatorCounts {
    pub received: u64,
    pub rejected: u64,
    pub handed_over: u64,
    /// Refusals at the counter; overdue and recalled parcels are not counted.
    pub refused: u64,
    pub returned: u64,
}

impl OperatorCounts {
    fn add(&mut self, body: &EventBody) {
        match body {
            EventBody::Received { .. } => self.received += 1,
            EventBody::Rejected { .. } => self.rejected += 1,
            EventBody::HandedOver => self.handed_over += 1,
            EventBody::ReturnPending { cause: ReturnCause::Refused, .. } => self.refused += 1,
            EventBody::Returned { .. } => self.returned += 1,
            _ => {}
        }
    }
}

/// The report over `[from, to)` by the terminal's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Counts per operator id, in id order; operators without events are
    /// left out.
    pub operators: BTreeMap<String, OperatorCounts>,
    pub total: OperatorCounts,
}

impl Desk {
    /// Counts the events recorded in `[from, to)`, by the device time of
    /// each event, per operator. Events still queued and events the backend
    /// rejected count too, because each records what the clerk did.
    pub fn report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<DailyReport> {
        if to <= from {
            return Err(DeskError::Invalid(format!(
                "report range is empty: {from} is not before {to}"
            )));
        }
        let events = outbox::between(&self.conn, &format_time(from), &format_time(to))?;
        let mut operators: BTreeMap<String, OperatorCounts> = BTreeMap::new();
        let mut total = OperatorCounts::default();
        for entry in &events {
            operators.entry(entry.operator_id.clone()).or_default().add(&entry.body);
            total.add(&entry.body);
        }
        operators.retain(|_, counts| *counts != OperatorCounts::default());
        Ok(DailyReport { from, to, operators, total })
    }
}
