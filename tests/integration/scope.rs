//! Scope: hrsync manages only accounts under `users_base` that match `user_filter`.

use crate::scenario::{Scenario, person, terminated};

const PASSWORD: &str = "Correct-Horse-9";

#[tokio::test(flavor = "multi_thread")]
async fn accounts_outside_the_base_or_the_filter_are_never_touched() {
    let s = Scenario::start("scope").await;
    s.write_config("user_filter = \"(&(objectClass=inetOrgPerson)(!(employeeType=service)))\"");
    // A service account inside the base, excluded by the filter.
    let service = s.dir.add_user(
        "svc.backup",
        "1301",
        Some(PASSWORD),
        "employeeType: service",
    );
    // An account outside the base altogether.
    let outside_ou = format!(
        "ou={}-outside,{}",
        s.base()
            .split(',')
            .next()
            .unwrap()
            .trim_start_matches("ou="),
        s.dir.server_base_dn
    );
    s.dir.ldapadd(&format!(
        "dn: {outside_ou}\nobjectClass: organizationalUnit\n"
    ));
    let outsider = format!("uid=outsider,{outside_ou}");
    s.dir.ldapadd(&format!(
        "dn: {outsider}\nobjectClass: inetOrgPerson\nuid: outsider\ncn: o\nsn: o\nemployeeNumber: 1302\nuserPassword: {PASSWORD}\n"
    ));
    // HR says both are gone, and names an ordinary leaver that is in scope.
    let leaver = s.dir.add_user("in.scope", "1303", Some(PASSWORD), "");
    s.serve(&[
        terminated(person("1301", "Svc", "Backup", "Other", "Service")),
        terminated(person("1302", "Out", "Sider", "Other", "Service")),
        terminated(person("1303", "In", "Scope", "Other", "Rep")),
    ])
    .await;
    let before_service = s.dir.entry(&service);
    let before_outsider = s.dir.entry(&outsider);

    s.expect(&["apply"], 0);
    assert_eq!(
        s.dir.entry(&service),
        before_service,
        "filtered out: untouched"
    );
    assert_eq!(
        s.dir.entry(&outsider),
        before_outsider,
        "outside the base: untouched"
    );
    assert!(s.dir.can_bind(&service, PASSWORD) && s.dir.can_bind(&outsider, PASSWORD));
    assert!(
        s.dir.entry(&leaver).is_none(),
        "the in-scope leaver was moved"
    );
    let cleanup = s.dir.ldapmodify(&format!(
        "dn: {outsider}\nchangetype: delete\n\ndn: {outside_ou}\nchangetype: delete\n"
    ));
    assert!(cleanup.status.success(), "{cleanup:?}");
}
