//! Sub-accounts over HTTP on both databases: invites, disabling, password changes and resets ending
//! sessions, people revoking their own sessions, API tokens on the REST API, shared dashboard links,
//! and what all of it leaves in the operation history.

mod support;

use domain::testing::TestDb;
use reqwest::StatusCode;
use serde_json::Value;
use support::*;

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn refused(res: reqwest::Response, status: StatusCode) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Creates a sub-account with a password; answers its id.
async fn user(admin: &Browser, username: &str, password: &str) -> i64 {
    ok(admin
        .call(
            "create_user",
            &[
                ("username", username),
                ("display_name", ""),
                ("role", "user"),
                ("password", password),
                ("confirm_password", password),
            ],
        )
        .await)
    .await;
    let users = ok(admin.call("get_users", &[]).await).await;
    users.as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"].as_i64().unwrap()
}

async fn sub_accounts_and_their_sessions(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let admin = Browser::new(&server.url);
    create_admin(&admin, &server.token()).await;

    // Password policy: too short, too common, the username; long ones are fine.
    for (password, message) in
        [("short", "at least 12"), ("password1234", "too common"), ("bob-the-builder", "username")]
    {
        let res = admin
            .call(
                "create_user",
                &[
                    ("username", "bob-the-builder"),
                    ("display_name", ""),
                    ("role", "user"),
                    ("password", password),
                    ("confirm_password", password),
                ],
            )
            .await;
        let body = refused(res, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(body["field"], "password");
        assert!(body["message"].as_str().unwrap().contains(message), "{body}");
    }
    let long = "a long passphrase about boats and harbours ".repeat(20);
    let bob = user(&admin, "bob", &long).await;

    // Disabling ends Bob's sessions at once and refuses new ones; enabling lets him back.
    let b1 = Browser::new(&server.url);
    ok(b1.sign_in("bob", &long).await).await;
    assert_eq!(b1.current_user().await["username"], "bob");
    ok(admin.call("set_user_disabled", &[("id", &bob.to_string()), ("disabled", "true")]).await).await;
    assert_eq!(b1.current_user().await, Value::Null, "disabled: the session is gone");
    // A disabled account answers its right password exactly as a wrong one.
    let right = refused(b1.sign_in("bob", &long).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let wrong = refused(b1.sign_in("bob", "not the password at all").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!((&right["field"], &right["message"]), (&wrong["field"], &wrong["message"]));
    ok(admin.call("set_user_disabled", &[("id", &bob.to_string()), ("disabled", "false")]).await).await;
    ok(b1.sign_in("bob", &long).await).await;

    // Bob sees his sessions, marks this one, and revokes the other.
    let b2 = Browser::new(&server.url);
    ok(b2.sign_in("bob", &long).await).await;
    let account = ok(b1.call("get_account", &[]).await).await;
    let sessions = account["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{account}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(sessions[0]["source"], "127.0.0.1");
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    ok(b1.call("revoke_session", &[("user", &bob.to_string()), ("session", &other)]).await).await;
    assert_eq!(b2.current_user().await, Value::Null, "the revoked session is gone");
    assert_eq!(b1.current_user().await["username"], "bob");
    // Nobody else's sessions: Bob cannot revoke the admin's.
    refused(b1.call("revoke_session", &[("user", "1"), ("session", "x")]).await, StatusCode::FORBIDDEN).await;

    // Changing his password ends every other session; this browser carries on in a new one.
    ok(b2.sign_in("bob", &long).await).await;
    let before = b1.session().unwrap();
    let new = "the tide comes in twice a day";
    refused(
        b1.call(
            "change_password",
            &[("current_password", "not my password"), ("password", new), ("confirm_password", new)],
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    ok(b1.call("change_password", &[("current_password", &long), ("password", new), ("confirm_password", new)]).await)
        .await;
    assert_eq!(b2.current_user().await, Value::Null, "password change ends the other sessions");
    assert_eq!(b1.current_user().await["username"], "bob");
    assert_ne!(b1.session().unwrap(), before, "a new session id after the change");
    refused(b2.sign_in("bob", &long).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    ok(b2.sign_in("bob", new).await).await;

    // An admin's reset ends them too.
    let reset = "lighthouse keepers count ships";
    ok(admin.call("reset_password", &[("id", &bob.to_string()), ("password", reset)]).await).await;
    assert_eq!(b1.current_user().await, Value::Null);
    assert_eq!(b2.current_user().await, Value::Null);
    ok(b1.sign_in("bob", reset).await).await;

    // Invites: an account without a password, a one-time link to choose one.
    let issued = ok(admin
        .call(
            "create_user",
            &[
                ("username", "ivy"),
                ("display_name", "Ivy"),
                ("role", "user"),
                ("password", ""),
                ("confirm_password", ""),
            ],
        )
        .await)
    .await;
    let path = issued["secret"].as_str().unwrap();
    let token = path.strip_prefix("/invite?token=").unwrap();
    let invited = Browser::new(&server.url);
    refused(invited.sign_in("ivy", "").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let info = ok(invited.call("get_invite", &[("token", token)]).await).await;
    assert_eq!((info["valid"].as_bool(), info["username"].as_str()), (Some(true), Some("ivy")));
    let body = refused(
        invited
            .call(
                "accept_invite",
                &[("token", token), ("password", "qwerty123456"), ("confirm_password", "qwerty123456")],
            )
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("too common"));
    let ivy_pw = "ivy grows on the old quay wall";
    ok(invited.call("accept_invite", &[("token", token), ("password", ivy_pw), ("confirm_password", ivy_pw)]).await)
        .await;
    assert_eq!(invited.current_user().await["username"], "ivy", "signed in by the invite");
    let info = ok(invited.call("get_invite", &[("token", token)]).await).await;
    assert_eq!(info["valid"], false, "used up: {info}");
    refused(
        Browser::new(&server.url)
            .call("accept_invite", &[("token", token), ("password", ivy_pw), ("confirm_password", ivy_pw)])
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // The history has each of these, with the secrets left out.
    let actor = admin_actor(&server.berth).await;
    let ops = server.berth.recent_operations(&actor, 500).await.unwrap();
    for action in [
        "user.create",
        "user.disable",
        "user.enable",
        "session.revoke",
        "user.change_password",
        "user.reset_password",
        "user.accept_invite",
    ] {
        assert!(ops.iter().any(|o| o.action == action && o.outcome == "success"), "{action} recorded");
    }
    assert!(
        ops.iter().any(|o| o.action == "session.revoke" && o.outcome == "denied"),
        "the refused revoke is recorded"
    );
    for o in &ops {
        for secret in [long.as_str(), new, reset, ivy_pw, token] {
            assert!(!o.params.contains(secret), "{} leaks a secret: {}", o.action, o.params);
        }
    }
    server.stop().await;
}
both_backends!(sub_accounts, sub_accounts_and_their_sessions);

async fn tokens_shares_and_grants(db: TestDb) {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(settings(&db, data.path())).await;
    let admin = Browser::new(&server.url);
    create_admin(&admin, &server.token()).await;
    let store = server.berth.store().clone();
    let now = domain::clock::now_ms();
    let mut ids = Vec::new();
    for name in ["alpha", "beta"] {
        let new = domain::cluster::NewCluster {
            name: name.into(),
            provider: "hosts".into(),
            status: "ready".into(),
            zones: vec![],
        };
        ids.push(store.cluster_insert(&new, now).await.unwrap());
    }
    let (alpha, beta) = (ids[0], ids[1]);
    let pw = "operators keep the lights on";
    let otto = user(&admin, "otto", pw).await;
    ok(admin
        .call("set_grant", &[("user", &otto.to_string()), ("cluster", &alpha.to_string()), ("role", "operator")])
        .await)
    .await;
    let o = Browser::new(&server.url);
    ok(o.sign_in("otto", pw).await).await;

    // A grant on a cluster changes what the next request may do; replacing it does not add a second.
    ok(admin
        .call("set_grant", &[("user", &otto.to_string()), ("cluster", &alpha.to_string()), ("role", "viewer")])
        .await)
    .await;
    let page = ok(admin.call("get_user", &[("id", &otto.to_string())]).await).await;
    assert_eq!(page["user"]["grants"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["user"]["grants"][0]["role"], "viewer");
    ok(admin
        .call("set_grant", &[("user", &otto.to_string()), ("cluster", &alpha.to_string()), ("role", "operator")])
        .await)
    .await;

    // Tokens: only admins make admin-scoped ones; the secret is shown once and works on the REST API.
    refused(
        o.call("create_token", &[("name", "ci"), ("role", "admin"), ("cluster", "all"), ("days", "7")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    refused(
        o.call("create_token", &[("name", "ci"), ("role", "viewer"), ("cluster", &beta.to_string()), ("days", "7")])
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let issued =
        ok(o.call("create_token", &[("name", "ci"), ("role", "viewer"), ("cluster", "all"), ("days", "7")]).await)
            .await;
    let secret = issued["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("berth_"));
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut req = client.get(format!("{}{path}", server.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let me = ok(get("/api/v1/me", Some(&secret)).await.unwrap()).await;
    assert_eq!((me["username"].as_str(), me["token_role"].as_str()), (Some("otto"), Some("viewer")));
    let listed = ok(get("/api/v1/clusters", Some(&secret)).await.unwrap()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "filtered to the grant: {listed}");
    refused(get(&format!("/api/v1/clusters/{beta}"), Some(&secret)).await.unwrap(), StatusCode::FORBIDDEN).await;
    let res = get("/api/v1/clusters", None).await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"berth\"");
    refused(res, StatusCode::UNAUTHORIZED).await;
    refused(get("/api/v1/clusters", Some("berth_not-a-token")).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // A token cannot act on the account, and cookies do not open the REST API.
    let doc = ok(get("/api/v1/openapi.json", None).await.unwrap()).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let with_cookie = o.get("/api/v1/me").await;
    assert_eq!(with_cookie.status(), StatusCode::UNAUTHORIZED);

    let tokens = ok(o.call("get_account", &[]).await).await["tokens"].clone();
    assert!(tokens[0]["last_used_at"].as_i64().is_some(), "last use recorded: {tokens}");
    assert!(!tokens.to_string().contains(&secret), "the secret is never listed");
    ok(o.call("revoke_token", &[("id", &issued["id"].to_string())]).await).await;
    refused(get("/api/v1/me", Some(&secret)).await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // Disabled users' tokens stop working too.
    let again =
        ok(o.call("create_token", &[("name", "ci2"), ("role", "operator"), ("cluster", "all"), ("days", "1")]).await)
            .await;
    let again = again["secret"].as_str().unwrap().to_string();
    ok(get("/api/v1/me", Some(&again)).await.unwrap()).await;
    ok(admin.call("set_user_disabled", &[("id", &otto.to_string()), ("disabled", "true")]).await).await;
    refused(get("/api/v1/me", Some(&again)).await.unwrap(), StatusCode::UNAUTHORIZED).await;

    // Shared links: read-only, for one cluster, until revoked.
    let share =
        ok(admin.call("create_share", &[("cluster", &alpha.to_string()), ("label", "wall"), ("hours", "24")]).await)
            .await;
    let link = share["secret"].as_str().unwrap().strip_prefix("/share?token=").unwrap().to_string();
    let anonymous = Browser::new(&server.url);
    let dash = ok(anonymous.call("get_shared_dashboard", &[("token", &link)]).await).await;
    assert_eq!(dash["cluster"]["name"], "alpha");
    assert_eq!(
        anonymous.get(&format!("/share?token={link}")).await.status(),
        StatusCode::OK,
        "the page needs no account"
    );
    refused(anonymous.call("get_cluster", &[("id", &alpha.to_string())]).await, StatusCode::UNAUTHORIZED).await;
    ok(admin.call("revoke_share", &[("id", &share["id"].to_string())]).await).await;
    let gone = refused(anonymous.call("get_shared_dashboard", &[("token", &link)]).await, StatusCode::FORBIDDEN).await;
    assert!(gone["message"].as_str().unwrap().contains("revoked"), "{gone}");

    let actor = admin_actor(&server.berth).await;
    let ops = server.berth.recent_operations(&actor, 500).await.unwrap();
    for (action, outcome) in [
        ("grant.set", "success"),
        ("token.create", "success"),
        ("token.create", "failure"),
        ("token.revoke", "success"),
        ("token.refused", "denied"),
        ("share.create", "success"),
        ("share.revoke", "success"),
    ] {
        assert!(ops.iter().any(|o| o.action == action && o.outcome == outcome), "{action} {outcome} recorded");
    }
    assert!(ops.iter().all(|o| !o.params.contains(&secret) && !o.params.contains(&link)));
    server.stop().await;
}
both_backends!(tokens_and_shares, tokens_shares_and_grants);
