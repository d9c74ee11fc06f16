//! The browser entry point: hydrates the HTML the server rendered, making the console live. Pages are
//! lazy routes (split into their own wasm files), so hydration waits for the page's file.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
