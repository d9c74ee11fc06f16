//! Preparing an existing host for Berth: a server certificate from Berth's CA and the script that
//! configures the host's dockerd for mutual TLS.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::cluster::PrepareHost;
use crate::components::ui::{Card, ErrorBanner, PageHeader, INPUT, PRIMARY};

#[component]
pub fn PrepareHost() -> impl IntoView {
    let prepare = ServerAction::<PrepareHost>::new();
    view! {
        <Title text="Prepare a host · Berth" />
        <div class="max-w-4xl space-y-6">
            <PageHeader title="Prepare a host" subtitle="Berth reaches existing hosts over mutual TLS: the host proves itself with a certificate from Berth's CA, Berth with its client certificate." />
            <Card title="The host">
                <ActionForm action=prepare>
                    <label class="block space-y-1">
                        <span class="text-sm font-medium">"Addresses and names"</span>
                        <input name="addresses" required class=INPUT placeholder="10.0.0.5, node-5.example.com" data-testid="host-addresses" />
                        <span class="block text-xs text-slate-500">"Every address or name Berth may dial the host at; the certificate names exactly these."</span>
                    </label>
                    <button type="submit" class=format!("{PRIMARY} mt-4") data-testid="prepare-host">"Make the setup script"</button>
                </ActionForm>
            </Card>
            {move || prepare.value().get().map(|r| match r {
                Ok(setup) => view! {
                    <Card title="Run this on the host, as root">
                        <p class="mb-2 text-sm">
                            "It writes the certificates to /etc/docker/berth and restarts dockerd listening on tcp://0.0.0.0:2376 with --tlsverify. "
                            "It contains the host's private key: Berth does not keep it, and you should delete the script afterwards."
                        </p>
                        <p class="mb-2 text-xs text-slate-500">"Berth's CA fingerprint (SHA-256): "<code data-testid="ca-fingerprint">{setup.ca_fingerprint}</code></p>
                        <textarea readonly rows="16" class=format!("{INPUT} font-mono text-xs") data-testid="host-script">{setup.script}</textarea>
                        <p class="mt-2 text-sm">"Then add "<code>{format!("tcp://{}:2376", setup.names.first().cloned().unwrap_or_default())}</code>" as a host of a cluster."</p>
                    </Card>
                }.into_any(),
                Err(e) => view! { <ErrorBanner message=e.display() testid="prepare-error" /> }.into_any(),
            })}
        </div>
    }
}
