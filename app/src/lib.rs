//! Berth's console: the HTML shell, the routes, the pages and components, and the server functions
//! they call. Compiled twice: with `ssr` into the server (pages rendered to HTML, server functions
//! run), with `hydrate` into the wasm that makes those pages live in the browser.

pub mod api;
mod codec;
mod components;
pub mod error;
mod format;
mod pages;

use leptos::nonce::use_nonce;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

/// Applies the saved (or the system's) colour scheme before the first paint, so a dark console does
/// not flash white. Inline, so it carries the page's CSP nonce.
const THEME_SCRIPT: &str = "try{var t=localStorage.getItem('berth-theme');\
if(t==='dark'||(!t&&matchMedia('(prefers-color-scheme: dark)').matches))\
document.documentElement.classList.add('dark')}catch(e){}";

/// The HTML document around every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    send_page_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <script nonce=use_nonce() inner_html=THEME_SCRIPT></script>
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <link rel="stylesheet" href="/pkg/berth.css" />
                <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
                <MetaTags />
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App />
            </body>
        </html>
    }
}

/// Extra `connect-src` sources for pages (the websocket of `cargo leptos watch`), provided by the server
/// as context; empty in production.
#[derive(Clone, Debug, Default)]
pub struct ExtraConnectSources(pub String);

/// The content security policy of every page: scripts only from Berth itself or carrying this
/// response's nonce, wasm allowed, nothing framed.
#[cfg(feature = "ssr")]
fn send_page_headers() {
    use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else { return };
    let nonce = use_nonce().map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let extra = use_context::<ExtraConnectSources>().map(|e| format!(" {}", e.0)).filter(|e| e.len() > 1);
    let reload = extra.unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'{reload}; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        res.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Runs in the browser only, once the page is live: tests wait for this mark before clicking.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "");
        }
    });
    view! {
        <Router>
            <Routes fallback=|| view! { <pages::not_found::NotFound /> }>
                <Route path=path!("/signin") view=pages::signin::SignIn />
                <Route path=path!("/setup") view=pages::setup::Setup />
                <Route path=path!("/invite") view=pages::invite::Invite />
                <Route path=path!("/share") view=pages::dashboard::SharedDashboard />
                <ParentRoute path=path!("") view=components::layout::Console>
                    <Route path=path!("") view=pages::overview::Overview />
                    <Route path=path!("clusters") view=pages::clusters::Clusters />
                    <Route path=path!("clusters/new") view=pages::clusters::NewCluster />
                    <Route path=path!("clusters/:id") view=pages::cluster::ClusterPage />
                    <Route path=path!("clusters/:id/dashboard") view=pages::dashboard::ClusterDashboard />
                    <Route path=path!("clusters/:id/nodes/:node") view=pages::node::NodeView />
                    <Route path=path!("clusters/:id/alerts") view=pages::alerts::AlertsView />
                    <Route path=path!("clusters/:id/logs") view=pages::logs::ClusterLogs />
                    <Route path=path!("clusters/:id/routing") view=pages::routing::RoutingPage />
                    <Route path=path!("history") view=pages::history::History />
                    <Route path=path!("apps") view=pages::apps::Apps />
                    <Route path=path!("apps/new") view=pages::apps::NewApp />
                    <Route path=path!("apps/:id") view=pages::apps::AppView />
                    <Route path=path!("templates") view=pages::templates::Templates />
                    <Route path=path!("templates/new") view=pages::templates::TemplateEdit />
                    <Route path=path!("templates/:id") view=pages::templates::TemplateEdit />
                    <Route path=path!("jobs/:id") view=pages::job::JobPage />
                    <Route path=path!("hosts/prepare") view=pages::prepare_host::PrepareHost />
                    <Route path=path!("settings") view=pages::settings::Settings />
                    <Route path=path!("users") view=pages::users::Users />
                    <Route path=path!("users/:id") view=pages::users::UserDetailPage />
                    <Route path=path!("account") view=pages::account::Account />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
