//! Several minijwt instances on one PostgreSQL database behave as one server.
//!
//! Needs a PostgreSQL server: `MINIJWT_TEST_POSTGRES=postgres://USER@HOST:PORT/DB`
//! (`tests/postgres/cluster.sh start DIR` starts a throwaway one and prints
//! its URL) and `--features postgres`. Without them, each test says loudly
//! that it was skipped; with `MINIJWT_REQUIRE_POSTGRES=1` (as `.ci/run`
//! sets), a missing server fails the tests instead.
//!
//! Each test starts three servers in this process, each with its own store
//! (its own connection pool) on one schema of its own: three instances.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use minijwt::auth::AuthConfig;
use serde_json::json;

/// Three servers sharing one new schema of the database at `url`.
fn three_instances(url: &str, config: AuthConfig) -> [TestServer; 3] {
    let shared = postgres_schema(url);
    let instance = || {
        ServerSetup {
            store: Some(minijwt::store::Store::open(&shared).unwrap()),
            config: config.clone(),
            ..ServerSetup::default()
        }
        .start()
    };
    [instance(), instance(), instance()]
}

#[test]
fn register_on_one_log_in_on_another_and_be_known_on_the_third() {
    let Some(url) = database("register_on_one_log_in_on_another_and_be_known_on_the_third") else {
        return;
    };
    let [a, b, c] = three_instances(&url, AuthConfig::default());
    assert_eq!(register(a.addr, "alice").status, 201);
    assert_eq!(
        register(b.addr, "ALICE").status,
        409,
        "names are unique in any case, everywhere"
    );
    let tokens = login(b.addr, "alice");
    assert_eq!(tokens.status, 200, "{tokens:?}");
    let me = call(c.addr, "GET", "/me", Some(&tokens.text("access_token")), None);
    assert_eq!((me.status, me.body["username"].as_str()), (200, Some("alice")));
    let note = post_note(a.addr, &tokens.text("access_token"), "from a");
    assert_eq!(note.status, 201);
    let notes = call(c.addr, "GET", "/notes", Some(&tokens.text("access_token")), None);
    assert_eq!(notes.body["notes"][0]["text"], "from a");
}

/// 18 clients refresh one token at once, six on each instance: what each
/// gets back, as (status, refresh token or error code).
fn refresh_at_once(servers: &[TestServer; 3], refresh_token: &str) -> Vec<(u16, String)> {
    let start = Arc::new(Barrier::new(18));
    let threads: Vec<_> = (0..18)
        .map(|i| {
            let addr = servers[i % 3].addr;
            let token = refresh_token.to_owned();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let reply = refresh(addr, &token, None);
                let what = match reply.status {
                    200 => reply.text("refresh_token"),
                    _ => reply.error().to_owned(),
                };
                (reply.status, what)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_rotation_wins_across_instances_without_grace() {
    let Some(url) = database("one_rotation_wins_across_instances_without_grace") else {
        return;
    };
    let config = AuthConfig {
        refresh_grace: 0,
        ..AuthConfig::default()
    };
    let servers = three_instances(&url, config);
    let alice = user(servers[0].addr, "alice");
    let outcomes = refresh_at_once(&servers, &alice.text("refresh_token"));
    let winners = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    for (status, _) in &outcomes {
        assert!(matches!(status, 200 | 401), "{outcomes:?}");
    }
}

#[test]
fn within_the_grace_window_every_instance_answers_the_same_successor() {
    let Some(url) = database("within_the_grace_window_every_instance_answers_the_same_successor") else {
        return;
    };
    let servers = three_instances(&url, AuthConfig::default());
    let alice = user(servers[0].addr, "alice");
    let outcomes = refresh_at_once(&servers, &alice.text("refresh_token"));
    assert!(outcomes.iter().all(|(status, _)| *status == 200), "{outcomes:?}");
    let successor = &outcomes[0].1;
    assert!(
        outcomes.iter().all(|(_, token)| token == successor),
        "{outcomes:?}"
    );
    // The successor is good on any instance.
    assert_eq!(refresh(servers[2].addr, successor, None).status, 200);
}

#[test]
fn a_token_rotated_on_a_and_replayed_on_b_revokes_the_family_on_c() {
    let Some(url) = database("a_token_rotated_on_a_and_replayed_on_b_revokes_the_family_on_c") else {
        return;
    };
    let config = AuthConfig {
        refresh_grace: 0,
        ..AuthConfig::default()
    };
    let [a, b, c] = three_instances(&url, config);
    let alice = user(a.addr, "alice");
    let stolen = alice.text("refresh_token");
    let rotated = refresh(a.addr, &stolen, None);
    assert_eq!(rotated.status, 200);
    let replay = refresh(b.addr, &stolen, None);
    assert_eq!(
        (replay.status, replay.error()),
        (401, "invalid_grant"),
        "{replay:?}"
    );
    let successor = refresh(c.addr, &rotated.text("refresh_token"), None);
    assert_eq!(
        successor.status, 401,
        "the family is revoked everywhere: {successor:?}"
    );
}

#[test]
fn session_and_account_changes_on_one_instance_hold_on_the_others_at_once() {
    let Some(url) = database("session_and_account_changes_on_one_instance_hold_on_the_others_at_once") else {
        return;
    };
    let [a, b, c] = three_instances(&url, AuthConfig::default());

    // Logout everywhere on A: B and C refuse the refresh tokens.
    let laptop = user(a.addr, "alice");
    let phone = login(b.addr, "alice");
    let out = call(
        a.addr,
        "POST",
        "/auth/logout-all",
        Some(&laptop.text("access_token")),
        None,
    );
    assert_eq!(out.status, 204, "{out:?}");
    assert_eq!(refresh(b.addr, &phone.text("refresh_token"), None).status, 401);
    assert_eq!(refresh(c.addr, &laptop.text("refresh_token"), None).status, 401);

    // A session revoked on B is over on C.
    let laptop = login(a.addr, "alice");
    let phone = login(c.addr, "alice");
    let sessions = call(
        b.addr,
        "GET",
        "/auth/sessions",
        Some(&laptop.text("access_token")),
        None,
    );
    let list = sessions.body["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{sessions:?}");
    let phone_session = list.iter().find(|s| s["current"] != json!(true)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/auth/sessions/{phone_session}");
    let revoked = call(b.addr, "DELETE", &path, Some(&laptop.text("access_token")), None);
    assert_eq!(revoked.status, 204, "{revoked:?}");
    assert_eq!(refresh(c.addr, &phone.text("refresh_token"), None).status, 401);

    // A password changed on C ends the other sessions on A, and the old
    // password no longer logs in on B.
    let other = login(a.addr, "alice");
    let change = call(
        c.addr,
        "POST",
        "/auth/password",
        Some(&laptop.text("access_token")),
        Some(&json!({"current_password": PASSWORD, "new_password": "a brand new password"})),
    );
    assert_eq!(change.status, 204, "{change:?}");
    assert_eq!(refresh(a.addr, &other.text("refresh_token"), None).status, 401);
    assert_eq!(login(b.addr, "alice").status, 401);

    // An account deleted on A: its access token is refused on B and C as
    // soon as the deletion's NOTIFY reaches them (each caches users: B and C
    // have just served alice's token, so both hold her).
    let access = laptop.text("access_token");
    for server in [&b, &c] {
        assert_eq!(call(server.addr, "GET", "/me", Some(&access), None).status, 200);
    }
    let delete = call(
        a.addr,
        "DELETE",
        "/me",
        Some(&access),
        Some(&json!({"password": "a brand new password"})),
    );
    assert_eq!(delete.status, 204, "{delete:?}");
    let deleted = Instant::now();
    for server in [&b, &c] {
        loop {
            let me = call(server.addr, "GET", "/me", Some(&access), None);
            if me.status == 401 {
                assert_eq!(me.error(), "invalid_token", "{me:?}");
                break;
            }
            assert_eq!(me.status, 200, "{me:?}");
            assert!(
                deleted.elapsed() < Duration::from_secs(1),
                "a deleted user still served after 1 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    say(format!(
        "a deletion reached the other instances' caches within {:?}",
        deleted.elapsed()
    ));
}

#[test]
fn instances_starting_together_migrate_once() {
    let Some(url) = database("instances_starting_together_migrate_once") else {
        return;
    };
    let shared = postgres_schema(&url);
    let start = Arc::new(Barrier::new(4));
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let (shared, start) = (shared.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                minijwt::store::Store::open(&shared).map(|_| ())
            })
        })
        .collect();
    for opening in opened {
        assert_eq!(opening.join().unwrap(), Ok(()));
    }
}

#[test]
fn failed_logins_are_counted_across_instances() {
    let Some(url) = database("failed_logins_are_counted_across_instances") else {
        return;
    };
    let servers = three_instances(&url, AuthConfig::default());
    assert_eq!(register(servers[0].addr, "alice").status, 201);
    let wrong = json!({"username": "alice", "password": "not the password"});
    // The per (name, address) limit is 5: two failures on A, two on B and
    // one on C use it up, and every instance refuses the sixth.
    for i in 0..5 {
        let reply = post(servers[[0, 0, 1, 1, 2][i]].addr, "/auth/login", wrong.clone());
        assert_eq!(reply.status, 401, "attempt {i}: {reply:?}");
    }
    for server in &servers {
        let reply = login(server.addr, "alice");
        assert_eq!(
            (reply.status, reply.error()),
            (429, "too_many_requests"),
            "{reply:?}"
        );
        assert!(reply.header("Retry-After").is_some(), "{reply:?}");
    }
}

#[test]
fn concurrent_guesses_on_three_instances_cannot_overshoot_the_limit() {
    let Some(url) = database("concurrent_guesses_on_three_instances_cannot_overshoot_the_limit") else {
        return;
    };
    let servers = three_instances(&url, AuthConfig::default());
    assert_eq!(register(servers[0].addr, "alice").status, 201);
    let start = Arc::new(Barrier::new(12));
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let (addr, start) = (servers[i % 3].addr, start.clone());
            std::thread::spawn(move || {
                start.wait();
                let wrong = json!({"username": "alice", "password": format!("guess number {i}")});
                post(addr, "/auth/login", wrong).status
            })
        })
        .collect();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    // Each attempt is counted before its password is hashed, under a lock
    // every instance takes: five passwords checked at most, whatever the order.
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(statuses.iter().all(|&s| s == 401 || s == 429), "{statuses:?}");
}

/// Races on one user's tokens, forced at the store: an operator connection
/// holds a row that a rotation writes last (its session's), so the rotation
/// stops inside its transaction, its successor inserted but not committed,
/// while a second operation starts. (The pauses only order the starts: had
/// one been too short, a test would pass without having raced, never fail.)
#[cfg(feature = "postgres")]
mod races {
    use std::thread::sleep;
    use std::time::Duration;

    use super::*;
    use minijwt::auth::{RefreshRecord, Rotation};
    use minijwt::store::{Store, StoreError};

    const PAUSE: Duration = Duration::from_millis(300);

    fn record(jti: &str, hash: u8, user_id: i64, family: &str) -> RefreshRecord {
        RefreshRecord {
            jti: jti.into(),
            token_hash: [hash; 32],
            user_id,
            family: family.into(),
            issued_at: 0,
            expires_at: 10_000,
        }
    }

    fn successor(jti: &'static str, hash: u8) -> impl Fn(&RefreshRecord) -> RefreshRecord {
        move |old| RefreshRecord {
            jti: jti.into(),
            token_hash: [hash; 32],
            issued_at: 1,
            ..old.clone()
        }
    }

    /// Runs `first`, then (a pause later) `second`, while the operator
    /// holds the row `held` locks; releases it, and gives both results.
    fn in_order<A: Send, B: Send>(
        operator: &mut postgres::Client,
        held: &str,
        first: impl FnOnce() -> A + Send,
        second: impl FnOnce() -> B + Send,
    ) -> (A, B) {
        let mut hold = operator.transaction().unwrap();
        hold.execute(held, &[]).unwrap();
        std::thread::scope(|s| {
            let first = s.spawn(first);
            sleep(PAUSE);
            let second = s.spawn(second);
            sleep(PAUSE);
            hold.commit().unwrap();
            (first.join().unwrap(), second.join().unwrap())
        })
    }

    /// The last row a rotation of family f writes.
    const SESSION_ROW: &str = "SELECT 1 FROM sessions WHERE id = 'f' FOR UPDATE";

    /// A store on a new schema with alice logged in (token j1, family f),
    /// and an operator connection in that schema.
    fn alice(url: &str) -> (Store, postgres::Client, i64) {
        let shared = postgres_schema(url);
        let store = Store::open(&shared).unwrap();
        let user = store.create_user("alice", "hash", 0).unwrap();
        store
            .start_session(&record("j1", 1, user.id, "f"), "alice", "ua", None)
            .unwrap();
        let operator = postgres::Client::connect(&shared, postgres::NoTls).unwrap();
        (store, operator, user.id)
    }

    #[test]
    fn logout_everywhere_during_a_rotation_revokes_its_successor_too() {
        let Some(url) = database("logout_everywhere_during_a_rotation_revokes_its_successor_too") else {
            return;
        };
        let (store, mut operator, alice) = alice(&url);
        let (rotation, logout) = in_order(
            &mut operator,
            SESSION_ROW,
            || store.rotate_refresh("j1", &[1; 32], 20, 0, successor("j2", 2)),
            || store.revoke_user(alice, 21),
        );
        assert!(matches!(rotation, Ok(Rotation::Rotated(_))));
        assert!(logout.is_ok());
        let after = store.rotate_refresh("j2", &[2; 32], 30, 0, successor("j3", 3));
        assert_eq!(
            after,
            Ok(Rotation::Revoked),
            "logged out everywhere, yet the new token rotates"
        );
    }

    #[test]
    fn reuse_detected_during_a_rotation_revokes_its_successor_too() {
        let Some(url) = database("reuse_detected_during_a_rotation_revokes_its_successor_too") else {
            return;
        };
        let (store, mut operator, _) = alice(&url);
        store
            .rotate_refresh("j1", &[1; 32], 10, 0, successor("j2", 2))
            .unwrap();
        let (rotation, replay) = in_order(
            &mut operator,
            SESSION_ROW,
            || store.rotate_refresh("j2", &[2; 32], 20, 0, successor("j3", 3)),
            || store.rotate_refresh("j1", &[1; 32], 21, 0, successor("jx", 9)),
        );
        assert!(matches!(rotation, Ok(Rotation::Rotated(_))));
        assert_eq!(replay, Ok(Rotation::Reused));
        let after = store.rotate_refresh("j3", &[3; 32], 30, 0, successor("j4", 4));
        assert_eq!(
            after,
            Ok(Rotation::Revoked),
            "the family was revoked, yet its newest token rotates"
        );
    }

    #[test]
    fn two_replays_of_one_family_at_once_both_answer() {
        let Some(url) = database("two_replays_of_one_family_at_once_both_answer") else {
            return;
        };
        let (store, mut operator, _) = alice(&url);
        store
            .rotate_refresh("j1", &[1; 32], 10, 0, successor("j2", 2))
            .unwrap();
        store
            .rotate_refresh("j2", &[2; 32], 11, 0, successor("j3", 3))
            .unwrap();
        let (first, second) = in_order(
            &mut operator,
            "SELECT 1 FROM refresh_tokens WHERE jti = 'j1' FOR UPDATE",
            || store.rotate_refresh("j1", &[1; 32], 20, 0, successor("x1", 7)),
            || store.rotate_refresh("j2", &[2; 32], 20, 0, successor("x2", 8)),
        );
        // No deadlock (503): one after the other, the first revokes
        // the family as reused, the second finds it revoked.
        assert_eq!(first, Ok(Rotation::Reused));
        assert_eq!(second, Ok(Rotation::Revoked));
    }

    #[test]
    fn a_rotation_and_the_deletion_of_its_user_at_once_both_answer() {
        let Some(url) = database("a_rotation_and_the_deletion_of_its_user_at_once_both_answer") else {
            return;
        };
        let (store, mut operator, alice) = alice(&url);
        let (rotation, deletion) = in_order(
            &mut operator,
            SESSION_ROW,
            || store.rotate_refresh("j1", &[1; 32], 20, 0, successor("j2", 2)),
            || store.delete_user(alice),
        );
        assert!(matches!(rotation, Ok(Rotation::Rotated(_))));
        assert_eq!(deletion, Ok(true));
        assert_eq!(
            store.rotate_refresh("j2", &[2; 32], 30, 0, successor("j3", 3)),
            Ok(Rotation::Unknown)
        );
    }

    #[test]
    fn a_login_racing_the_deletion_of_its_account_is_refused_as_such() {
        let Some(url) = database("a_login_racing_the_deletion_of_its_account_is_refused_as_such") else {
            return;
        };
        let shared = postgres_schema(&url);
        let store = Store::open(&shared).unwrap();
        let bob = store.create_user("bob", "hash", 0).unwrap();
        let mut operator = postgres::Client::connect(&shared, postgres::NoTls).unwrap();
        let mut deletion = operator.transaction().unwrap();
        deletion
            .execute("DELETE FROM users WHERE id = $1", &[&bob.id])
            .unwrap();
        std::thread::scope(|s| {
            let login = s.spawn(|| store.start_session(&record("k1", 1, bob.id, "g"), "bob", "ua", None));
            sleep(PAUSE);
            deletion.commit().unwrap();
            // 401 for the login, not a 500 from a broken foreign key.
            assert_eq!(login.join().unwrap(), Err(StoreError::Conflict));
        });
    }

    #[test]
    fn many_addresses_failing_for_one_name_keep_a_bounded_count() {
        let Some(url) = database("many_addresses_failing_for_one_name_keep_a_bounded_count") else {
            return;
        };
        let shared = postgres_schema(&url);
        let store = Store::open(&shared).unwrap();
        let names = ["user victim".to_owned()];
        for at in 0..60 {
            let counted = store.count_login_attempt(&names, at, -1, 20, &|_| None).unwrap();
            assert!(counted.is_ok());
        }
        let mut operator = postgres::Client::connect(&shared, postgres::NoTls).unwrap();
        let rows: i64 = operator
            .query_one(
                "SELECT count(*) FROM login_failures WHERE key = 'user victim'",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(rows <= 21, "{rows} failures kept for one name");
    }
}
