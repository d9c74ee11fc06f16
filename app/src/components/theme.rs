//! Light / dark switch. The choice is kept in `localStorage`; without one the system's preference
//! wins (see the shell's theme script).

use leptos::prelude::*;

use super::ui::{icons, Icon};

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let dark = RwSignal::new(false);
    // Runs once in the browser: learn what the theme script chose.
    Effect::new(move |_| {
        let is_dark = document().document_element().map(|e| e.class_list().contains("dark")).unwrap_or(false);
        dark.set(is_dark);
    });
    let toggle = move |_| {
        let now_dark = !dark.get_untracked();
        dark.set(now_dark);
        if let Some(root) = document().document_element() {
            let _ = root.class_list().toggle_with_force("dark", now_dark);
        }
        if let Ok(Some(storage)) = window().local_storage() {
            let _ = storage.set_item("berth-theme", if now_dark { "dark" } else { "light" });
        }
    };
    view! {
        <button
            type="button"
            on:click=toggle
            data-testid="theme-toggle"
            aria-label="Switch between light and dark"
            aria-pressed=move || dark.get().to_string()
            class="rounded-md p-2 text-slate-500 hover:bg-slate-100 hover:text-slate-900 dark:text-slate-400 dark:hover:bg-slate-800 dark:hover:text-white"
        >
            {move || if dark.get() { view! { <Icon path=icons::SUN /> } } else { view! { <Icon path=icons::MOON /> } }}
        </button>
    }
}
