//! One page of a list, as the tables ask for it: search words, a sort column and a page. The
//! search, sort and paging are done on the server (`domain::listing`), so a browser receives only
//! the rows it shows.

use serde::{Deserialize, Serialize};

/// The most rows one bulk action may name.
pub const MAX_BULK: usize = 200;

/// One page of rows and where it sits in the whole list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageRows<T> {
    pub rows: Vec<T>,
    /// Rows matching the search, over all pages.
    pub total: usize,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
}

impl<T> PageRows<T> {
    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

/// What a table asks for (the query string of its page: `?q=…&sort=…&desc=1&page=2`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListArgs {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub desc: bool,
    #[serde(default)]
    pub page: usize,
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use domain::listing::{Key, ListQuery, Listable};

    use super::{ListArgs, PageRows};
    use crate::api::app::{AppRow, TemplateRow};
    use crate::api::cluster::{ClusterRow, NodeRow, TaskRow};
    use crate::api::ram::UserRow;
    use crate::error::AppError;

    /// The page of `rows` that `args` asks for, or the field that is wrong.
    pub fn paged<T: Listable>(rows: Vec<T>, args: ListArgs) -> Result<PageRows<T>, AppError> {
        let query = ListQuery { q: args.q, sort: args.sort, desc: args.desc, page: args.page, per_page: 0 }
            .checked::<T>()
            .map_err(super::super::ssr::wire)?;
        let p = query.apply(rows);
        Ok(PageRows { rows: p.rows, total: p.total, page: p.page, per_page: p.per_page })
    }

    fn text(s: &str) -> Key {
        Key::Text(s.to_string())
    }

    impl Listable for AppRow {
        const SORTS: &'static [&'static str] = &["name", "cluster", "status", "version", "changed"];
        fn haystack(&self) -> String {
            format!("{} {} {} {}", self.name, self.cluster_name, self.status, self.created_by)
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "cluster" => text(&self.cluster_name),
                "status" => text(&self.status),
                "version" => Key::Num(self.version),
                "changed" => Key::Num(self.updated_at),
                _ => text(&self.name),
            }
        }
    }

    impl Listable for TemplateRow {
        const SORTS: &'static [&'static str] = &["name", "version", "author", "changed"];
        fn haystack(&self) -> String {
            format!("{} {} {}", self.name, self.description, self.created_by)
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "version" => Key::Num(self.version),
                "author" => text(&self.created_by),
                "changed" => Key::Num(self.updated_at),
                _ => text(&self.name),
            }
        }
    }

    impl Listable for UserRow {
        const SORTS: &'static [&'static str] = &["username", "name", "role", "created"];
        fn haystack(&self) -> String {
            let role = if self.admin { "admin" } else { "sub-account" };
            let state = if self.disabled { "disabled" } else { "" };
            format!("{} {} {role} {state}", self.username, self.display_name)
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "name" => text(&self.display_name),
                "role" => Key::Num(i64::from(!self.admin)),
                "created" => Key::Num(self.created_at),
                _ => text(&self.username),
            }
        }
    }

    impl Listable for ClusterRow {
        const SORTS: &'static [&'static str] = &["name", "provider", "status", "nodes", "created"];
        fn haystack(&self) -> String {
            format!("{} {} {} {}", self.name, self.provider, self.status, self.zones.join(" "))
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "provider" => text(&self.provider),
                "status" => text(&self.status),
                "nodes" => Key::Num(i64::from(self.nodes)),
                "created" => Key::Num(self.created_at),
                _ => text(&self.name),
            }
        }
    }

    impl Listable for NodeRow {
        const SORTS: &'static [&'static str] = &["name", "state", "role", "availability", "zone", "address", "engine"];
        fn haystack(&self) -> String {
            let labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "{} {} {} {} {} {} {} {}",
                self.name,
                self.state,
                self.role,
                self.availability,
                self.zone,
                self.address,
                self.engine_version,
                labels.join(" ")
            )
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "state" => text(&self.state),
                "role" => text(&self.role),
                "availability" => text(&self.availability),
                "zone" => text(&self.zone),
                "address" => text(&self.address),
                "engine" => text(&self.engine_version),
                _ => text(&self.name),
            }
        }
    }

    impl Listable for TaskRow {
        const SORTS: &'static [&'static str] = &["service", "slot", "state", "desired"];
        fn haystack(&self) -> String {
            format!(
                "{} {} {} {} {} {}",
                self.service, self.state, self.desired_state, self.message, self.error, self.id
            )
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "slot" => Key::Num(self.slot.unwrap_or(0)),
                "state" => text(&self.state),
                "desired" => text(&self.desired_state),
                _ => text(&self.service),
            }
        }
    }
}
