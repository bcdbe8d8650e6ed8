#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The store's contract, run against both implementations, and what only a real redb file
//! shows: reopening, a crash, corrupt values, the lock, the schema version, the file mode.

use std::path::Path;

use redb::{Database, TableDefinition};
use registrar::{Aor, Binding, Registrar, RegistrarConfig, Snapshot, Time};
use store::{
    FILE_NAME, MemoryStore, RedbStore, SCHEMA_VERSION, SecretError, Store, StoreError, UserRecord,
};

// The file layout the crate documents; a rename breaks these tests on purpose.
const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
const BINDINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bindings");
const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

fn aor(user: &str) -> Aor {
    Aor::new(user, "example.test")
}

fn binding(user: &str, id: u64, expires_at: u64) -> Binding {
    Binding {
        aor: aor(user),
        id,
        contact: format!("<sip:{user}@192.0.2.{id}:5061;transport=tls>"),
        params: Vec::new(),
        q_millis: Some(500),
        expires_at: Time(expires_at),
        call_id: format!("call-{id}"),
        cseq: u32::try_from(id).unwrap(),
        instance: Some(format!("<urn:uuid:00000000-0000-0000-0000-{id:012}>").into()),
        reg_id: None,
        flow: None,
        received_on: None,
        path: vec!["<sip:edge.example.test;lr>".into()],
        epid: Some("01010101".into()),
        temp_gruu_first: 1,
        temp_gruu_last: 3,
    }
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        aor: format!("sip:{name}@example.test"),
        username: name.into(),
        realm: "example.test".into(),
        display_name: Some(name.to_uppercase()),
        ha1_md5: Some("0123456789abcdef0123456789abcdef".into()),
        ha1_sha256: Some("ab".repeat(32)),
    }
}

fn ids(bindings: &[Binding]) -> Vec<u64> {
    let mut ids: Vec<u64> = bindings.iter().map(|b| b.id).collect();
    ids.sort_unstable();
    ids
}

fn open(dir: &Path) -> RedbStore {
    RedbStore::open(dir).unwrap()
}

// ---- the contract, for both stores ----

fn bindings_round_trip(s: &mut impl Store) {
    let alice = vec![binding("alice", 1, 10_000), binding("alice", 2, 20_000)];
    let bob = vec![binding("bob", 3, 30_000)];
    s.put_aor(&aor("alice"), &alice).unwrap();
    s.put_aor(&aor("bob"), &bob).unwrap();
    let loaded = s.load_bindings().unwrap();
    assert!(loaded.skipped.is_empty());
    let mut expected = alice.clone();
    expected.extend(bob);
    assert_eq!(loaded.items, expected, "every field comes back");

    // put_aor replaces the whole list of that AOR only.
    s.put_aor(&aor("alice"), &alice[1..]).unwrap();
    assert_eq!(ids(&s.load_bindings().unwrap().items), [2, 3]);
    // An empty list deletes the AOR.
    s.put_aor(&aor("alice"), &[]).unwrap();
    assert_eq!(ids(&s.load_bindings().unwrap().items), [3]);
    s.put_aor(&aor("bob"), &[]).unwrap();
    assert!(s.load_bindings().unwrap().items.is_empty());
}

fn flush_keeps_the_last_write_per_aor(s: &mut impl Store) {
    s.put_aor(&aor("carol"), &[binding("carol", 9, 1)]).unwrap();
    s.flush(vec![
        (aor("alice"), vec![binding("alice", 1, 1)]),
        (aor("bob"), vec![binding("bob", 2, 1)]),
        (
            aor("alice"),
            vec![binding("alice", 4, 1), binding("alice", 5, 1)],
        ),
        (aor("carol"), vec![]),
        (aor("bob"), vec![]),
        (aor("dave"), vec![]),
        (aor("dave"), vec![binding("dave", 6, 1)]),
    ])
    .unwrap();
    assert_eq!(ids(&s.load_bindings().unwrap().items), [4, 5, 6]);
}

fn a_wrong_aor_stores_nothing(s: &mut impl Store) {
    let err = s
        .put_aor(
            &aor("alice"),
            &[binding("alice", 1, 1), binding("bob", 2, 1)],
        )
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::WrongAor { binding: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("sip:bob@example.test"), "{err}");
    // A batch is all or nothing: the good first entry is not written either.
    let err = s
        .flush(vec![
            (aor("carol"), vec![binding("carol", 3, 1)]),
            (aor("alice"), vec![binding("bob", 4, 1)]),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongAor { binding: 4, .. }));
    assert!(s.load_bindings().unwrap().items.is_empty());
}

fn users_round_trip(s: &mut impl Store) {
    s.put_user(&user("alice")).unwrap();
    s.put_user(&user("bob")).unwrap();
    assert_eq!(
        s.get_user("sip:alice@example.test").unwrap(),
        Some(user("alice"))
    );
    assert_eq!(s.get_user("sip:nobody@example.test").unwrap(), None);

    let mut changed = user("alice");
    changed.display_name = None;
    changed.ha1_sha256 = None;
    s.put_user(&changed).unwrap();
    let loaded = s.load_users().unwrap();
    assert!(loaded.skipped.is_empty());
    assert_eq!(loaded.items, vec![changed, user("bob")]);

    assert!(s.remove_user("sip:alice@example.test").unwrap());
    assert!(!s.remove_user("sip:alice@example.test").unwrap());
    assert_eq!(s.load_users().unwrap().items, vec![user("bob")]);
}

fn an_invalid_user_is_refused(s: &mut impl Store) {
    let mut plain = user("alice");
    plain.ha1_md5 = Some("hunter2".into());
    let err = s.put_user(&plain).unwrap_err();
    assert!(matches!(err, StoreError::InvalidUser { .. }), "{err}");
    let mut upper = user("alice");
    upper.aor = "sip:alice@EXAMPLE.test".into();
    assert!(matches!(
        s.put_user(&upper),
        Err(StoreError::InvalidUser { .. })
    ));
    assert!(s.load_users().unwrap().items.is_empty());
}

fn meta_and_secrets(s: &mut impl Store) {
    assert_eq!(s.get_meta("x").unwrap(), None);
    s.put_meta("x", b"\x00\xff").unwrap();
    assert_eq!(s.get_meta("x").unwrap(), Some(vec![0, 0xff]));
    let err = s.put_meta("store.schema_version", b"9").unwrap_err();
    assert!(matches!(err, StoreError::ReservedMetaKey { .. }), "{err}");

    let made = s
        .secret("gruu-secret", 32, |buf| {
            buf.fill(7);
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    assert_eq!(made, vec![7; 32]);
    let again = s
        .secret("gruu-secret", 32, |_| {
            Err(std::io::Error::other("a stored secret is not made again"))
        })
        .unwrap();
    assert_eq!(again, made);

    let err = s
        .secret("gruu-secret", 16, |_| Ok::<(), std::io::Error>(()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            SecretError::Store(StoreError::SecretLength {
                stored: 32,
                wanted: 16,
                ..
            })
        ),
        "{err}"
    );

    let err = s
        .secret("nonce-secret", 32, |_| {
            Err(std::io::Error::other("no entropy"))
        })
        .unwrap_err();
    assert!(matches!(err, SecretError::Fill { .. }), "{err}");
    assert!(err.to_string().contains("nonce-secret"), "{err}");
    assert_eq!(s.get_meta("nonce-secret").unwrap(), None, "nothing stored");
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[test] fn $name() { super::$name(&mut store::MemoryStore::new()); })*
        }
        mod redb_file {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                super::$name(&mut super::open(dir.path()));
            })*
        }
        mod boxed_dyn {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let mut s: Box<dyn store::Store> = Box::new(super::open(dir.path()));
                super::$name(&mut s);
            })*
        }
    };
}

contract!(
    bindings_round_trip,
    flush_keeps_the_last_write_per_aor,
    a_wrong_aor_stores_nothing,
    users_round_trip,
    an_invalid_user_is_refused,
    meta_and_secrets,
);

// ---- only a real file ----

#[test]
fn reopening_keeps_everything_and_the_registrar_restores_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let secret;
    {
        let mut s = open(dir.path());
        s.flush(vec![
            (
                aor("alice"),
                vec![binding("alice", 1, 5_000), binding("alice", 2, 50_000)],
            ),
            (aor("bob"), vec![binding("bob", 3, 60_000)]),
        ])
        .unwrap();
        s.put_user(&user("alice")).unwrap();
        secret = s
            .secret("registrar-secret", 32, |b| {
                b.copy_from_slice(&[42; 32]);
                Ok::<(), std::io::Error>(())
            })
            .unwrap();
        s.close().unwrap();
    }
    let mut s = open(dir.path());
    let same = s
        .secret("registrar-secret", 32, |_| {
            Err(std::io::Error::other("the secret survives a restart"))
        })
        .unwrap();
    assert_eq!(same, secret);
    assert_eq!(s.load_users().unwrap().items, vec![user("alice")]);

    let loaded = s.load_bindings().unwrap();
    assert_eq!(ids(&loaded.items), [1, 2, 3]);
    let mut registrar = Registrar::new(RegistrarConfig::default(), &same).unwrap();
    let dropped = registrar.restore(
        Time(10_000),
        Snapshot {
            bindings: loaded.items,
        },
    );
    assert_eq!(dropped, 1, "binding 1 expired while the server was down");
    assert_eq!(ids(&registrar.lookup(Time(10_000), &aor("alice"))), [2]);
    assert_eq!(ids(&registrar.lookup(Time(10_000), &aor("bob"))), [3]);
}

#[test]
fn a_flush_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let mut s = open(dir.path());
    s.flush(vec![(aor("alice"), vec![binding("alice", 1, 1)])])
        .unwrap();
    s.flush(vec![(aor("bob"), vec![binding("bob", 2, 1)])])
        .unwrap();
    // What kill -9 leaves on disk: the file as it is while still open, never closed cleanly.
    std::fs::copy(s.file(), crashed.path().join(FILE_NAME)).unwrap();
    // Dropping without close() (the server's shutdown path) keeps it too.
    drop(s);

    for d in [crashed.path(), dir.path()] {
        let loaded = open(d).load_bindings().unwrap();
        assert_eq!(ids(&loaded.items), [1, 2], "{}", d.display());
        assert!(loaded.skipped.is_empty());
    }
}

#[test]
fn corrupt_values_are_skipped_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = open(dir.path());
        s.put_aor(&aor("alice"), &[binding("alice", 1, 1)]).unwrap();
        s.put_user(&user("alice")).unwrap();
        s.put_user(&user("bob")).unwrap();
    }
    {
        let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut b = txn.open_table(BINDINGS).unwrap();
            b.insert(b"sip:bob@example.test".as_slice(), b"{not json".as_slice())
                .unwrap();
            // A list under the wrong key.
            let carols = serde_json::to_vec(&[binding("alice", 7, 1)]).unwrap();
            b.insert(b"sip:carol@example.test".as_slice(), carols.as_slice())
                .unwrap();
            b.insert(b"sip:\xff@example.test".as_slice(), b"[]".as_slice())
                .unwrap();
            let mut u = txn.open_table(USERS).unwrap();
            u.insert(b"sip:bob@example.test".as_slice(), b"\x00\x01".as_slice())
                .unwrap();
            // Decodes, but carries a password where a HA1 belongs.
            let mut bad = user("dave");
            bad.ha1_md5 = Some("hunter2".into());
            let bad = serde_json::to_vec(&bad).unwrap();
            u.insert(b"sip:dave@example.test".as_slice(), bad.as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }

    let s = open(dir.path());
    let bindings = s.load_bindings().unwrap();
    assert_eq!(ids(&bindings.items), [1], "the good value still loads");
    assert_eq!(bindings.skipped.len(), 3);
    let keys: Vec<&str> = bindings.skipped.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "sip:bob@example.test",
            "sip:carol@example.test",
            "sip:\u{fffd}@example.test"
        ]
    );
    let message = bindings.skipped[0].to_string();
    assert!(message.contains("table `bindings`"), "{message}");
    assert!(message.contains(FILE_NAME), "{message}");
    assert!(message.contains("register again"), "{message}");
    assert!(
        bindings.skipped[1].reason.contains("another AOR"),
        "{}",
        bindings.skipped[1]
    );

    let users = s.load_users().unwrap();
    assert_eq!(users.items, vec![user("alice")]);
    assert_eq!(users.skipped.len(), 2);
    assert!(users.skipped.iter().all(|c| c.table == "users"));
    // Asked for by key, a corrupt value is an error naming it.
    let err = s.get_user("sip:bob@example.test").unwrap_err();
    assert!(matches!(&err, StoreError::CorruptValue(c) if c.key == "sip:bob@example.test"));
    assert!(err.to_string().contains("table `users`"), "{err}");
}

#[test]
fn a_second_open_says_the_file_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let err = RedbStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().join(FILE_NAME).display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("in use by another convene process"),
        "{message}"
    );
    assert!(message.contains("convene ctl"), "{message}");
    drop(first);
    open(dir.path());
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let file = dir.path().join(FILE_NAME);
    let set_version = |v: &[u8]| {
        let db = Database::create(&file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(META)
            .unwrap()
            .insert(b"store.schema_version".as_slice(), v)
            .unwrap();
        txn.commit().unwrap();
    };
    set_version(&(SCHEMA_VERSION + 1).to_be_bytes());
    let err = RedbStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found, supported, .. }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer convene"), "{err}");
    // Refusing did not overwrite the version.
    assert!(matches!(
        RedbStore::open(dir.path()),
        Err(StoreError::NewerSchema { .. })
    ));

    for junk in [b"v1".as_slice(), &0u32.to_be_bytes()] {
        set_version(junk);
        let err = RedbStore::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, StoreError::CorruptValue(c) if c.table == "meta"),
            "{err:?}"
        );
    }

    set_version(&SCHEMA_VERSION.to_be_bytes());
    open(dir.path());
}

#[test]
fn a_file_that_is_not_a_store_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        b"this is not a database, it is a text file that happens to share the name",
    )
    .unwrap();
    let err = RedbStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err:?}");
    assert!(err.to_string().contains("move it out"), "{err}");
}

#[test]
fn open_makes_the_directory_and_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("convene-data");
    let s = open(&data);
    assert_eq!(s.file(), data.join(FILE_NAME));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.file()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "HA1s are password-equivalent");
    }
}

#[test]
fn a_data_directory_that_cannot_be_made_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let err = RedbStore::open(&blocker.join("data")).unwrap_err();
    assert!(matches!(err, StoreError::DataDir { .. }), "{err:?}");
    assert!(err.to_string().contains("--data"), "{err}");
}

#[test]
fn memory_store_reports_where_it_is() {
    assert_eq!(MemoryStore::new().location(), "memory");
}
