//! Accounts through the domain facade, on SQLite and PostgreSQL: the first admin, signing in and out,
//! throttling, sessions resolving to actors, and the history rows each step leaves.

use std::time::Duration;

use domain::bootstrap::BootstrapState;
use domain::engine::Endpoint;
use domain::store::Store;
use domain::throttle::Limit;
use domain::user::AccountInput;
use domain::{store_test, Actor, Berth, Config, Error};

const PASSWORD: &str = "correct horse battery staple";

fn berth(store: Store) -> Berth {
    let mut config = Config::new(Endpoint::parse("unix:///var/run/docker.sock").unwrap());
    config.account_limit = Limit { max_failures: 3, window: Duration::from_secs(60) };
    config.address_limit = Limit { max_failures: 5, window: Duration::from_secs(60) };
    Berth::new(store, config)
}

fn from(address: &str) -> Actor {
    Actor::anonymous(address, "req")
}

fn input(username: &str, password: &str) -> AccountInput {
    AccountInput {
        username: username.into(),
        display_name: String::new(),
        password: password.into(),
        confirm_password: password.into(),
    }
}

async fn first_admin(berth: &Berth) -> i64 {
    let token = berth.prepare_bootstrap().await.unwrap().expect("a token while no user exists");
    berth.bootstrap_admin(&from("10.0.0.1"), &token.token, &input("Ada", PASSWORD)).await.unwrap().id
}

async fn actions(berth: &Berth) -> Vec<(String, String, String)> {
    let admin = berth.resolve_actor(admin_session(berth).await, "127.0.0.1".into(), "r".into()).await.unwrap();
    let mut rows: Vec<_> = berth
        .recent_operations(&admin, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.action, o.target, o.outcome))
        .collect();
    rows.reverse();
    rows
}

async fn admin_session(berth: &Berth) -> Option<domain::session::SessionAuth> {
    let id = berth.store().user_by_username("ada").await.unwrap()?.id;
    Some(domain::session::SessionAuth { user_id: id, signed_in_at: domain::clock::now_ms() })
}

async fn bootstrap_creates_one_admin(store: Store) {
    let berth = berth(store);
    let stale = berth.prepare_bootstrap().await.unwrap().unwrap();
    let token = berth.prepare_bootstrap().await.unwrap().unwrap();
    assert_ne!(stale.token, token.token);
    assert_eq!(berth.bootstrap_state(&stale.token).await.unwrap(), BootstrapState::Unknown, "replaced");
    assert!(matches!(berth.bootstrap_state(&token.token).await.unwrap(), BootstrapState::Valid { .. }));

    // Bad input names the field and uses nothing up.
    let bad = berth.bootstrap_admin(&from("10.0.0.1"), &token.token, &input("ada", "short")).await;
    assert!(matches!(bad, Err(Error::Invalid { ref field, .. }) if field == "password"), "{bad:?}");
    let wrong = berth.bootstrap_admin(&from("10.0.0.1"), "not-the-token", &input("ada", PASSWORD)).await;
    assert!(matches!(wrong, Err(Error::Forbidden(_))), "{wrong:?}");

    let ada = berth.bootstrap_admin(&from("10.0.0.1"), &token.token, &input(" Ada ", PASSWORD)).await.unwrap();
    assert_eq!((ada.username.as_str(), ada.display_name.as_str()), ("ada", "ada"));
    assert_eq!(berth.bootstrap_state(&token.token).await.unwrap(), BootstrapState::Done);
    let again = berth.bootstrap_admin(&from("10.0.0.1"), &token.token, &input("eve", PASSWORD)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert!(berth.prepare_bootstrap().await.unwrap().is_none(), "no new token once an admin exists");

    assert_eq!(
        actions(&berth).await,
        [
            ("user.bootstrap_link_issued", "", "success"),
            ("user.bootstrap_link_issued", "", "success"),
            ("user.bootstrap_admin", "ada", "failure"),
            ("user.bootstrap_admin", "ada", "denied"),
            ("user.bootstrap_admin", "ada", "success"),
            ("user.bootstrap_admin", "eve", "failure"),
        ]
        .map(|(a, t, o)| (a.to_string(), t.to_string(), o.to_string()))
    );
}
store_test!(bootstrap, bootstrap_creates_one_admin);

async fn sign_in_checks_and_records(store: Store) {
    let berth = berth(store);
    let id = first_admin(&berth).await;
    let user = berth.sign_in(&from("10.0.0.1"), "ADA ", PASSWORD).await.unwrap();
    assert_eq!(user.id, id);
    let wrong = berth.sign_in(&from("10.0.0.1"), "ada", "nope").await.unwrap_err();
    assert!(matches!(wrong, Error::Invalid { ref field, .. } if field == "password"), "{wrong:?}");
    // Unknown accounts get the same answer.
    let unknown = berth.sign_in(&from("10.0.0.1"), "nobody", "nope").await.unwrap_err();
    assert_eq!(unknown.to_string(), wrong.to_string());

    let rows = actions(&berth).await;
    let sign_ins: Vec<_> =
        rows.iter().filter(|r| r.0 == "session.sign_in").map(|r| (r.1.as_str(), r.2.as_str())).collect();
    assert_eq!(sign_ins, [("ada", "success"), ("ada", "failure"), ("nobody", "failure")]);
    let history = berth
        .recent_operations(&berth.resolve_actor(admin_session(&berth).await, "x".into(), "r".into()).await.unwrap(), 1)
        .await
        .unwrap();
    assert_eq!(history[0].source, "10.0.0.1");
    assert!(!history[0].params.contains("nope"), "no password in the history");
}
store_test!(sign_in, sign_in_checks_and_records);

async fn failures_are_throttled_per_account_and_per_address(store: Store) {
    let berth = berth(store);
    first_admin(&berth).await;
    for _ in 0..3 {
        assert!(matches!(berth.sign_in(&from("10.0.0.9"), "ada", "wrong").await, Err(Error::Invalid { .. })));
    }
    // The account is locked now, even with the right password and from another address…
    let locked = berth.sign_in(&from("10.0.0.8"), "ada", PASSWORD).await.unwrap_err();
    let Error::Throttled { retry_after_secs } = locked else { panic!("{locked:?}") };
    assert!((1..=60).contains(&retry_after_secs), "{retry_after_secs}");
    // …while other accounts from other addresses are not.
    assert!(matches!(berth.sign_in(&from("10.0.0.8"), "bob", "x").await, Err(Error::Invalid { .. })));

    // One address trying many accounts is stopped too (5 failures per address).
    for name in ["u1", "u2", "u3"] {
        assert!(matches!(berth.sign_in(&from("10.0.0.7"), name, "x").await, Err(Error::Invalid { .. })));
    }
    assert!(matches!(berth.sign_in(&from("10.0.0.7"), "u4", "x").await, Err(Error::Invalid { .. })));
    assert!(matches!(berth.sign_in(&from("10.0.0.7"), "u5", "x").await, Err(Error::Invalid { .. })));
    assert!(matches!(berth.sign_in(&from("10.0.0.7"), "u6", "x").await, Err(Error::Throttled { .. })));

    let throttled = actions(&berth).await.into_iter().filter(|r| r.2 == "throttled").count();
    assert_eq!(throttled, 2, "throttled attempts are recorded");
}
store_test!(throttling, failures_are_throttled_per_account_and_per_address);

async fn sessions_resolve_to_actors(store: Store) {
    let berth = berth(store);
    let id = first_admin(&berth).await;
    let now = domain::clock::now_ms();
    let fresh = domain::session::SessionAuth { user_id: id, signed_in_at: now };
    let actor = berth.resolve_actor(Some(fresh), "10.0.0.1".into(), "r".into()).await.unwrap();
    assert_eq!(actor.user().map(|u| u.username.as_str()), Some("ada"));
    // Past the absolute lifetime, or naming a user who does not exist: anonymous.
    let old = domain::session::SessionAuth { user_id: id, signed_in_at: now - 25 * 3600 * 1000 };
    assert!(berth.resolve_actor(Some(old), "x".into(), "r".into()).await.unwrap().user().is_none());
    let ghost = domain::session::SessionAuth { user_id: id + 100, signed_in_at: now };
    assert!(berth.resolve_actor(Some(ghost), "x".into(), "r".into()).await.unwrap().user().is_none());
    assert!(berth.resolve_actor(None, "x".into(), "r".into()).await.unwrap().user().is_none());

    // Signing out is recorded; an anonymous sign-out is a denied attempt, recorded too.
    berth.sign_out(&actor).await.unwrap();
    assert!(matches!(berth.sign_out(&from("10.0.0.5")).await, Err(Error::Unauthenticated)));
    let outs: Vec<_> = actions(&berth).await.into_iter().filter(|r| r.0 == "session.sign_out").map(|r| r.2).collect();
    assert_eq!(outs, ["success", "denied"]);
}
store_test!(sessions, sessions_resolve_to_actors);
