//! The pieces every list table shares: the view's state lives in the page's address
//! (`?q=web&sort=name&desc=1&page=2`), so a view can be shared, reloaded and gone back to; sorting
//! and paging are links, the search navigates, and the server does the work
//! ([`crate::api::list`]).

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

use crate::api::list::ListArgs;
use crate::components::ui::{BUTTON, INPUT, PRIMARY};
use crate::format;

/// The table's state, read from the address.
pub fn use_list_args() -> Memo<ListArgs> {
    let query = use_query_map();
    Memo::new(move |_| {
        query.with(|q| ListArgs {
            q: q.get("q").unwrap_or_default(),
            sort: q.get("sort").unwrap_or_default(),
            desc: q.get("desc").is_some_and(|d| d == "1"),
            page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        })
    })
}

/// The address of `path` showing the table as `args` says, keeping the other parameters of
/// `search` (the current `?…`, such as the tab or another table's view).
pub fn list_href(path: &str, search: &str, args: &ListArgs) -> String {
    let sort = (!args.sort.is_empty()).then(|| args.sort.clone());
    query_href(
        path,
        search,
        &[
            ("q", (!args.q.is_empty()).then(|| args.q.clone())),
            ("desc", (sort.is_some() && args.desc).then(|| "1".to_string())),
            ("sort", sort),
            ("page", (args.page > 1).then(|| args.page.to_string())),
        ],
    )
}

/// `path` with the query `search` changed: each named parameter set to its value, or removed when
/// it has none. The parameters not named keep their places; new ones follow them.
pub fn query_href(path: &str, search: &str, changes: &[(&str, Option<String>)]) -> String {
    let named = |pair: &str| {
        let key = pair.split('=').next().unwrap_or_default();
        changes.iter().any(|(k, _)| *k == key)
    };
    let mut parts: Vec<String> =
        search.trim_start_matches('?').split('&').filter(|p| !p.is_empty() && !named(p)).map(str::to_string).collect();
    let mut set: Vec<&(&str, Option<String>)> = changes.iter().filter(|(_, v)| v.is_some()).collect();
    // A fixed order for the table's own parameters: `q`, `sort`, `desc`, `page`.
    let rank = |k: &str| ["q", "sort", "desc", "page"].iter().position(|x| *x == k).unwrap_or(4);
    set.sort_by_key(|(k, _)| rank(k));
    for (key, value) in set {
        parts.push(format!("{key}={}", encode(value.as_deref().unwrap_or_default())));
    }
    if parts.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A column header that sorts the table by `column`: ascending first, then descending.
#[component]
pub fn SortHeader(label: &'static str, column: &'static str, args: Memo<ListArgs>) -> impl IntoView {
    let location = use_location();
    let sorted = move || args.with(|a| (a.sort == column).then_some(a.desc));
    let href = move || {
        let mut a = args.get();
        a.desc = a.sort == column && !a.desc;
        a.sort = column.to_string();
        a.page = 1;
        list_href(&location.pathname.get(), &location.search.get(), &a)
    };
    view! {
        <th scope="col" class="px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500"
            aria-sort=move || match sorted() { Some(true) => "descending", Some(false) => "ascending", None => "none" }>
            <A href=href attr:class="inline-flex items-center gap-1 hover:text-slate-900 dark:hover:text-white" attr:data-testid=format!("sort-{column}")>
                {label}
                <span aria-hidden="true" class="text-[10px]">{move || match sorted() { Some(true) => "▼", Some(false) => "▲", None => "" }}</span>
            </A>
        </th>
    }
}

/// The search form over a table: submitting it puts the words into the address (page 1, the sort
/// kept).
#[component]
pub fn ListSearch(args: Memo<ListArgs>, label: &'static str, placeholder: &'static str) -> impl IntoView {
    let location = use_location();
    let navigate = use_navigate();
    let input = NodeRef::<leptos::html::Input>::new();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let q = input.get_untracked().map(|i| i.value()).unwrap_or_default();
        let next = ListArgs { q: q.trim().to_string(), page: 1, ..args.get_untracked() };
        navigate(
            &list_href(&location.pathname.get_untracked(), &location.search.get_untracked(), &next),
            Default::default(),
        );
    };
    view! {
        <form class="flex flex-wrap items-center gap-2" role="search" on:submit=on_submit>
            <input type="search" node_ref=input class=format!("{} min-w-0 flex-1 sm:max-w-sm", INPUT.replace("block w-full ", "")) aria-label=label placeholder=placeholder
                data-testid="list-search" prop:value=move || args.with(|a| a.q.clone()) />
            <button type="submit" class=PRIMARY data-testid="list-search-go">"Search"</button>
            {move || args.with(|a| (!a.q.is_empty()).then(|| {
                let clear = ListArgs { q: String::new(), page: 1, ..a.clone() };
                view! { <A href=list_href(&location.pathname.get_untracked(), &location.search.get_untracked(), &clear) attr:class=BUTTON attr:data-testid="list-search-clear">"Clear"</A> }
            }))}
        </form>
    }
}

/// "26–50 of 1,234" and the links to the pages before and after.
#[component]
pub fn Pager(total: usize, page: usize, per_page: usize, args: Memo<ListArgs>, noun: &'static str) -> impl IntoView {
    let location = use_location();
    let pages = total.div_ceil(per_page.max(1)).max(1);
    let first = if total == 0 { 0 } else { (page - 1) * per_page + 1 };
    let last = (page * per_page).min(total);
    let to = move |p: usize| {
        let mut a = args.get_untracked();
        a.page = p;
        list_href(&location.pathname.get_untracked(), &location.search.get_untracked(), &a)
    };
    let shown = if total <= per_page {
        format::count(total as i64, noun)
    } else {
        format!("{first}–{last} of {}", format::count(total as i64, noun))
    };
    view! {
        <nav aria-label="Pages" class="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-500" data-testid="pager">
            <span data-testid="pager-range">{shown}</span>
            {(pages > 1).then(|| view! {
                <span class="flex items-center gap-2">
                    {(page > 1).then(|| view! { <A href=to(page - 1) attr:class=BUTTON attr:data-testid="page-prev" attr:rel="prev">"Previous"</A> })}
                    <span>{format!("Page {page} of {pages}")}</span>
                    {(page < pages).then(|| view! { <A href=to(page + 1) attr:class=BUTTON attr:data-testid="page-next" attr:rel="next">"Next"</A> })}
                </span>
            })}
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_holds_the_view() {
        let a = ListArgs { q: "web & db".into(), sort: "name".into(), desc: true, page: 3 };
        assert_eq!(list_href("/apps", "", &a), "/apps?q=web%20%26%20db&sort=name&desc=1&page=3");
        assert_eq!(list_href("/apps", "?page=2", &ListArgs { page: 1, ..Default::default() }), "/apps");
        // Other parameters stay: the tab, another table's view.
        assert_eq!(
            list_href(
                "/apps/1",
                "?tab=events&q=old&severity=error",
                &ListArgs { q: "web".into(), ..Default::default() }
            ),
            "/apps/1?tab=events&severity=error&q=web"
        );
        assert_eq!(query_href("/c/1", "?sort=name&events_q=x", &[("events_q", None)]), "/c/1?sort=name");
        assert_eq!(encode("ü"), "%C3%BC");
    }
}
