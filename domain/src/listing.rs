//! Lists as tables show them: a word search, a sort by one column, and one page at a time, done
//! here so that a browser receives only the page it shows (lists reach 10,000 rows).
//!
//! A list names the columns it sorts by ([`Listable::sort_key`]); a sort by anything else is
//! refused with the field named, so a shared link with a stale column says so instead of guessing.

use std::cmp::Ordering;

use crate::error::{Error, Result};

/// The most rows one page may hold.
pub const MAX_PER_PAGE: usize = 200;
/// Rows per page when the caller does not say.
pub const DEFAULT_PER_PAGE: usize = 25;

/// What a table asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Words that must all appear in a row's text (case-insensitive); empty for every row.
    pub q: String,
    /// The column to sort by; empty for the list's own order.
    pub sort: String,
    pub desc: bool,
    /// From 1.
    pub page: usize,
    /// 0 for the default.
    pub per_page: usize,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// Rows that matched the search, over all pages.
    pub total: usize,
    /// The page shown (from 1; the last page when the one asked for is past the end).
    pub page: usize,
    pub per_page: usize,
}

impl<T> Page<T> {
    /// How many pages the matching rows fill (at least 1).
    pub fn pages(&self) -> usize {
        self.total.div_ceil(self.per_page.max(1)).max(1)
    }
}

/// A sort key: numbers compare as numbers, text naturally (`n2` before `n10`), case-insensitively.
#[derive(Clone, Debug, PartialEq)]
pub enum Key {
    Num(i64),
    Text(String),
}

/// A row a table can search and sort.
pub trait Listable {
    /// The columns this list sorts by.
    const SORTS: &'static [&'static str];
    /// The text the search looks in.
    fn haystack(&self) -> String;
    /// The row's key for one of [`Listable::SORTS`].
    fn sort_key(&self, column: &str) -> Key;
}

impl ListQuery {
    /// The query with its paging made whole, or the field that is wrong.
    pub fn checked<T: Listable>(mut self) -> Result<ListQuery> {
        if !self.sort.is_empty() && !T::SORTS.contains(&self.sort.as_str()) {
            return Err(Error::Invalid {
                field: "sort".into(),
                message: format!("this list sorts by {}, not \"{}\"", T::SORTS.join(", "), self.sort),
            });
        }
        if self.q.chars().count() > 200 {
            return Err(Error::Invalid { field: "q".into(), message: "a search has at most 200 characters".into() });
        }
        if self.per_page > MAX_PER_PAGE {
            return Err(Error::Invalid {
                field: "per_page".into(),
                message: format!("a page has at most {MAX_PER_PAGE} rows"),
            });
        }
        if self.per_page == 0 {
            self.per_page = DEFAULT_PER_PAGE;
        }
        self.page = self.page.max(1);
        Ok(self)
    }

    /// The page of `rows` this query asks for (call [`ListQuery::checked`] first).
    pub fn apply<T: Listable>(&self, rows: Vec<T>) -> Page<T> {
        let words: Vec<String> = self.q.split_whitespace().map(str::to_lowercase).collect();
        let mut rows: Vec<T> = if words.is_empty() {
            rows
        } else {
            rows.into_iter()
                .filter(|r| {
                    let text = r.haystack().to_lowercase();
                    words.iter().all(|w| text.contains(w.as_str()))
                })
                .collect()
        };
        if !self.sort.is_empty() {
            // Stable: rows with equal keys keep the list's own order.
            rows.sort_by(|a, b| {
                let o = compare(&a.sort_key(&self.sort), &b.sort_key(&self.sort));
                if self.desc {
                    o.reverse()
                } else {
                    o
                }
            });
        }
        let per_page = self.per_page.max(1);
        let total = rows.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = self.page.clamp(1, pages);
        let rows = rows.into_iter().skip((page - 1) * per_page).take(per_page).collect();
        Page { rows, total, page, per_page }
    }
}

fn compare(a: &Key, b: &Key) -> Ordering {
    match (a, b) {
        (Key::Num(x), Key::Num(y)) => x.cmp(y),
        (Key::Text(x), Key::Text(y)) => natural(x, y),
        (Key::Num(_), Key::Text(_)) => Ordering::Less,
        (Key::Text(_), Key::Num(_)) => Ordering::Greater,
    }
}

/// Compares text as people read it: runs of digits by their value, the rest case-insensitively.
pub fn natural(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut a), take(&mut b));
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let o = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(x), Some(y)) => {
                let o = x.to_lowercase().cmp(y.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                a.next();
                b.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Row(&'static str, i64);

    impl Listable for Row {
        const SORTS: &'static [&'static str] = &["name", "size"];
        fn haystack(&self) -> String {
            format!("{} {}", self.0, self.1)
        }
        fn sort_key(&self, column: &str) -> Key {
            match column {
                "size" => Key::Num(self.1),
                _ => Key::Text(self.0.into()),
            }
        }
    }

    fn rows() -> Vec<Row> {
        vec![Row("web-10", 3), Row("web-2", 1), Row("Api", 2), Row("db", 5)]
    }

    fn query(q: &str, sort: &str, desc: bool, page: usize, per_page: usize) -> ListQuery {
        ListQuery { q: q.into(), sort: sort.into(), desc, page, per_page }.checked::<Row>().unwrap()
    }

    #[test]
    fn sorts_naturally_and_by_number() {
        let names = |p: Page<Row>| p.rows.into_iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(names(query("", "name", false, 1, 0).apply(rows())), ["Api", "db", "web-2", "web-10"]);
        assert_eq!(names(query("", "name", true, 1, 0).apply(rows())), ["web-10", "web-2", "db", "Api"]);
        assert_eq!(names(query("", "size", false, 1, 0).apply(rows())), ["web-2", "Api", "web-10", "db"]);
        assert_eq!(names(query("", "", false, 1, 0).apply(rows())), ["web-10", "web-2", "Api", "db"], "own order");
        assert_eq!(natural("n02", "n2"), Ordering::Equal);
        assert_eq!(natural("a9", "a10"), Ordering::Less);
    }

    #[test]
    fn searches_every_word_and_pages() {
        let p = query("WEB 1", "", false, 1, 0).apply(rows());
        assert_eq!(p.rows, vec![Row("web-10", 3), Row("web-2", 1)]);
        let p = query("", "name", false, 2, 3).apply(rows());
        assert_eq!((p.total, p.page, p.pages(), p.rows.len()), (4, 2, 2, 1));
        // A page past the end shows the last one.
        let p = query("", "name", false, 9, 3).apply(rows());
        assert_eq!((p.page, p.rows[0].0), (2, "web-10"));
        // Nothing matches: one empty page.
        let p = query("nothing", "", false, 1, 0).apply(rows());
        assert_eq!((p.total, p.pages(), p.rows.len()), (0, 1, 0));
    }

    #[test]
    fn refuses_what_the_list_does_not_allow() {
        let bad = |q: ListQuery| match q.checked::<Row>() {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let base = ListQuery::default();
        for sort in ["id", "Name", "name ", "size;drop", "haystack"] {
            assert_eq!(bad(ListQuery { sort: sort.into(), ..base.clone() }), "sort", "{sort}");
        }
        assert_eq!(bad(ListQuery { per_page: MAX_PER_PAGE + 1, ..base.clone() }), "per_page");
        assert_eq!(bad(ListQuery { q: "x".repeat(201), ..base.clone() }), "q");
        let ok = base.checked::<Row>().unwrap();
        assert_eq!((ok.page, ok.per_page), (1, DEFAULT_PER_PAGE));
    }
}
