//! The page for an address that names nothing.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Berth" />
        <main class="grid min-h-screen place-items-center p-6 text-center">
            <div>
                <p class="text-5xl font-bold text-sky-600">"404"</p>
                <h1 class="mt-2 text-xl font-semibold">"Nothing here"</h1>
                <p class="mt-1 text-sm text-slate-500">"This address does not name a page of the console."</p>
                <a href="/" class="mt-4 inline-block text-sm font-medium text-sky-600 hover:underline">"Back to the overview"</a>
            </div>
        </main>
    }
}
