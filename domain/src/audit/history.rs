//! Reading the operation history: the page's filtered, grant-scoped list, CSV export, and the
//! verification of the hash chain that detects any row changed, inserted or removed.

use serde::Serialize;

use crate::authz::{authorize, Actor, ClusterRole, Level, Permission};
use crate::error::Result;
use crate::store::{chain_hash, Operation, GENESIS};
use crate::store::{OperationFilter, Store};
use crate::Berth;

/// What a verification found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChainReport {
    /// Rows checked.
    pub rows: i64,
    /// The last row's id and hash: write them down to detect later removal of rows at the end.
    pub head_id: i64,
    pub head_hash: String,
    /// The first row whose link does not hold, and why.
    pub broken: Option<Broken>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Broken {
    pub id: i64,
    pub reason: String,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

impl Store {
    /// Walks the whole chain in id order and recomputes every link.
    pub async fn verify_chain(&self) -> Result<ChainReport> {
        let mut report = ChainReport { rows: 0, head_id: 0, head_hash: GENESIS.into(), broken: None };
        let mut after = 0;
        loop {
            let page = self.operations_after(after, 2000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for row in &page {
                report.rows += 1;
                if let Some(reason) = check(&report.head_hash, report.head_id, row) {
                    report.broken.get_or_insert(Broken { id: row.id, reason });
                }
                report.head_id = row.id;
                report.head_hash = row.hash.clone().unwrap_or_default();
            }
        }
        Ok(report)
    }
}

/// Why `row` does not continue a chain whose last hash is `prev` (row `prev_id`), if it does not.
fn check(prev: &str, prev_id: i64, row: &Operation) -> Option<String> {
    let (Some(stored_prev), Some(hash)) = (&row.prev_hash, &row.hash) else {
        return Some("the row has no hash".into());
    };
    if stored_prev != prev {
        return Some(if prev_id == 0 {
            "the first row does not start the chain: rows before it were removed".into()
        } else {
            format!("the link to row {prev_id} is broken: a row between them was removed or inserted, or row {prev_id} was changed")
        });
    }
    if chain_hash(prev, &row.fields()) != *hash {
        return Some("the row's fields do not match its hash: the row was changed".into());
    }
    None
}

impl Berth {
    /// Operations matching `filter`, newest first: every row for admins, for others the rows about
    /// clusters they can see and their own.
    pub async fn operations(&self, actor: &Actor, filter: &OperationFilter) -> Result<Vec<Operation>> {
        let user = authorize(actor, Permission::ClusterList)?;
        if user.is_admin() {
            return self.store.operations(filter, None).await;
        }
        let visible: Vec<i64> = self
            .store
            .clusters()
            .await?
            .iter()
            .map(|c| c.id)
            .filter(|c| user.level(*c) >= Level::Role(ClusterRole::Viewer))
            .collect();
        self.store.operations(filter, Some((&visible, user.id))).await
    }

    /// The actors and actions there are, for filter menus (admins see all; others only these lists'
    /// shape, not who did what elsewhere, so they get their own rows' values).
    pub async fn operation_facets(&self, actor: &Actor) -> Result<(Vec<String>, Vec<String>)> {
        let user = authorize(actor, Permission::ClusterList)?;
        if user.is_admin() {
            return self.store.operation_facets().await;
        }
        let rows = self.operations(actor, &OperationFilter { limit: 5000, ..Default::default() }).await?;
        let mut actors: Vec<String> = rows.iter().map(|r| r.actor_name.clone()).collect();
        let mut actions: Vec<String> = rows.iter().map(|r| r.action.clone()).collect();
        for list in [&mut actors, &mut actions] {
            list.sort();
            list.dedup();
        }
        Ok((actors, actions))
    }

    /// The filtered operations as CSV (RFC 4180), newest first, at most 100,000 rows.
    pub async fn operations_csv(&self, actor: &Actor, filter: &OperationFilter) -> Result<String> {
        let rows = self.operations(actor, &OperationFilter { limit: 100_000, ..filter.clone() }).await?;
        Ok(to_csv(&rows))
    }

    /// Verifies the whole chain: admins.
    pub async fn verify_history(&self, actor: &Actor) -> Result<ChainReport> {
        authorize(actor, Permission::OperationRead)?;
        self.store.verify_chain().await
    }
}

/// CSV with a header; timestamps as RFC 3339 UTC.
pub fn to_csv(rows: &[Operation]) -> String {
    let mut out = String::from(
        "id,time,duration_ms,actor,source,channel,action,target,cluster_id,outcome,error_code,error,params,request_id\n",
    );
    for r in rows {
        let fields = [
            r.id.to_string(),
            rfc3339(r.started_at),
            r.duration_ms.to_string(),
            r.actor_name.clone(),
            r.source.clone(),
            r.channel.clone(),
            r.action.clone(),
            r.target.clone(),
            r.cluster_id.map(|c| c.to_string()).unwrap_or_default(),
            r.outcome.clone(),
            r.error_code.clone().unwrap_or_default(),
            r.error_message.clone().unwrap_or_default(),
            r.params.clone(),
            r.request_id.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(f: &str) -> String {
    // A leading = + - @ would be a formula in a spreadsheet: quote it with a leading apostrophe.
    let f =
        if f.starts_with(['=', '+', '-', '@']) && f.parse::<f64>().is_err() { format!("'{f}") } else { f.to_string() };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

fn rfc3339(ms: i64) -> String {
    crate::clock::rfc3339_ns(ms.saturating_mul(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("-5"), "-5");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
