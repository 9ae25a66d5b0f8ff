//! The approval page (`plan --format html`): one self-contained HTML file that someone who does
//! not read LDIF can review and approve. Tripped limits and warnings come first, then the counts
//! per lifecycle, then each account's changes in plain words with the reason for each, grouped by
//! lifecycle, with a search box and filters by lifecycle, department and group; then the
//! terminations to come, the skipped accounts and the orphans.
//!
//! The page embeds the saved plan itself (what `plan --out` writes as JSON: the masked plan, who
//! made it, the configuration digest and the signature when one is set) in a
//! `<script type="application/json" id="hrsync-plan">` block, and shows its digest, so that an
//! approval can name exactly what was approved and `apply --plan page.html --digest ...` applies
//! that and nothing else. `apply --plan` also renders the page again from the embedded plan and
//! refuses a page that differs: what the approver saw is what the embedded plan says.
//!
//! Every value that comes from HR or the directory is HTML-escaped (as text and in quoted
//! attributes alike), the embedded JSON has `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes so
//! nothing in it can end its block, and the page's Content-Security-Policy allows its own style
//! and filter script only (by hash) and no request of any kind: even an escaping bug could not
//! run a script from a name or make the page fetch anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::text::{disable_how, enable_how, parenthesised, show};
use crate::dn::Dn;
use crate::plan::{AccountPlan, Action, Change, GroupAction, Lifecycle, Plan};

/// The filter script and the style sheet, inline (the page is one file) and allowed by hash.
const SCRIPT: &str = include_str!("html/page.js");
const STYLE: &str = include_str!("html/page.css");

/// How the embedded saved plan starts and ends; `apply --plan` reads it back from there.
const PLAN_BLOCK_START: &str = r#"<script type="application/json" id="hrsync-plan">"#;
const PLAN_BLOCK_END: &str = "</script>";

/// The attributes whose values name an account's department, in the order they are looked for
/// (compared case-insensitively). The plan does not carry HR's department itself; these are the
/// mapped attributes that usually hold it.
const DEPARTMENT_ATTRIBUTES: [&str; 3] = ["departmentNumber", "department", "ou"];

/// The attributes an account's name is shown from, in order.
const NAME_ATTRIBUTES: [&str; 2] = ["displayName", "cn"];

/// How many of a tripped limit's accounts are named; the rest are counted.
const LIMIT_ACCOUNTS_SHOWN: usize = 50;

/// The page for `plan` (masked, like every shown plan), embedding `saved` (the saved plan's
/// JSON as written to a file, signature included) and showing `digest`, the saved plan's digest.
pub(crate) fn page(plan: &Plan, saved: &Value, digest: &str) -> String {
    let plan = &*plan.masked();
    let views: Vec<AccountView<'_>> = plan.accounts.iter().map(AccountView::of).collect();
    let names: BTreeMap<&str, &str> = views
        .iter()
        .map(|v| (v.account.employee_id.as_str(), v.name.as_str()))
        .collect();
    let mut out = String::with_capacity(16_384 + plan.accounts.len() * 2_048);
    head(&mut out, plan);
    header(&mut out, plan, saved, digest);
    limits(&mut out, plan, &names);
    warnings(&mut out, plan);
    summary(&mut out, plan);
    filters(&mut out, &views);
    accounts(&mut out, &views);
    group_changes(&mut out, plan);
    scheduled(&mut out, plan, &names);
    skipped(&mut out, plan);
    orphans(&mut out, plan);
    footer(&mut out);
    embedded(&mut out, saved);
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// The saved plan's JSON embedded in `page`, as written: refused unless the page holds exactly
/// one such block.
pub(crate) fn embedded_plan(page: &str) -> Result<&str, String> {
    let mut blocks = page.match_indices(PLAN_BLOCK_START);
    let Some((start, _)) = blocks.next() else {
        return Err(
            "an HTML page without hrsync's embedded plan (no <script id=\"hrsync-plan\"> block)"
                .to_string(),
        );
    };
    if blocks.next().is_some() {
        return Err("the page holds more than one embedded plan: refused".to_string());
    }
    let body = &page[start + PLAN_BLOCK_START.len()..];
    let end = body
        .find(PLAN_BLOCK_END)
        .ok_or_else(|| "the page's embedded plan has no end".to_string())?;
    Ok(&body[..end])
}

/// Whether a saved plan file is an approval page rather than JSON.
pub(crate) fn is_page(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
}

// Writing to a String cannot fail: the results of write! are ignored deliberately throughout.

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped, so that it stays text in an element and
/// in a quoted attribute value alike. Every value from HR or the directory goes through it.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// `sha256-` and the base64 SHA-256 of an inline script or style, for the CSP.
fn csp_hash(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    format!("'sha256-{}'", BASE64.encode(digest.as_ref()))
}

/// The page's Content-Security-Policy: nothing by default (no request, no frame, no font, no
/// image), its own style and script by hash, no `<base>` and no form submission.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
}

fn title(plan: &Plan) -> String {
    format!(
        "hrsync plan of {} for approval",
        plan.generated_at.format("%Y-%m-%d %H:%M UTC")
    )
}

fn head(out: &mut String, plan: &Plan) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        Esc(&content_security_policy()),
        Esc(&title(plan)),
    );
}

fn header(out: &mut String, plan: &Plan, saved: &Value, digest: &str) {
    let made_by = saved
        .get("made_by")
        .and_then(Value::as_str)
        .unwrap_or("(not recorded)");
    let signed = if saved.get("signature").is_some() {
        "yes (HMAC-SHA256 with plans.signing_key): apply --plan refuses it if anything in it changes"
    } else {
        "no (plans.signing_key is not set); apply --plan still applies only what a fresh plan \
         also makes"
    };
    let config = plan
        .config
        .as_ref()
        .map_or("(not recorded)", |c| c.digest.as_str());
    let s = &plan.summary;
    let _ = write!(
        out,
        "<header>\n<h1>{}</h1>\n<dl class=\"facts\">\
         <dt>Made at</dt><dd>{}</dd>\
         <dt>Made by</dt><dd>{}</dd>\
         <dt>Read</dt><dd>{} HR record(s), {} directory account(s)</dd>\
         <dt>Configuration</dt><dd><code>{}</code></dd>\
         <dt>Signed</dt><dd>{}</dd></dl>\n",
        Esc(&title(plan)),
        plan.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        Esc(made_by),
        s.hr_records,
        s.directory_accounts,
        Esc(config),
        Esc(signed),
    );
    let _ = write!(
        out,
        "<div class=\"approval\"><p>Plan digest: <code class=\"digest\" id=\"plan-digest\">{0}</code></p>\
         <p>The digest names exactly this plan: an approval should quote it. Once approved, \
         apply it with <code>hrsync apply --plan FILE --digest {0}</code>; hrsync refuses a \
         file whose digest differs, and applies only the changes a fresh plan still makes.</p>\
         </div>\n</header>\n",
        Esc(digest),
    );
}

fn limits(out: &mut String, plan: &Plan, names: &BTreeMap<&str, &str>) {
    if plan.limits_tripped.is_empty() {
        return;
    }
    out.push_str(
        "<section class=\"attention limits\" id=\"limits\"><h2>Safety limits tripped</h2>\
         <p>This plan goes over these limits. <code>hrsync apply</code> refuses it as it is; \
         applying this reviewed plan (<code>apply --plan</code>) approves going over them.</p>\
         <ul>",
    );
    for tripped in &plan.limits_tripped {
        let shown: Vec<String> = tripped
            .accounts
            .iter()
            .take(LIMIT_ACCOUNTS_SHOWN)
            .map(|id| match names.get(id.as_str()) {
                Some(name) => format!("{name} ({id})"),
                None => id.clone(),
            })
            .collect();
        let more = tripped.accounts.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li><strong>{}</strong><br>accounts: {}{more}</li>",
            Esc(&tripped.to_string()),
            Esc(&shown.join(", ")),
        );
    }
    out.push_str("</ul></section>\n");
}

fn warnings(out: &mut String, plan: &Plan) {
    if plan.warnings.is_empty() {
        return;
    }
    out.push_str("<section class=\"attention\" id=\"warnings\"><h2>Warnings</h2><ul>");
    for warning in &plan.warnings {
        let _ = write!(out, "<li>{}</li>", Esc(warning));
    }
    out.push_str("</ul></section>\n");
}

/// A lifecycle's heading and what it means, for the summary and the sections.
fn lifecycle_words(lifecycle: Lifecycle) -> (&'static str, &'static str) {
    match lifecycle {
        Lifecycle::Joiner => ("Joiners", "new accounts, with their role's groups"),
        Lifecycle::Mover => (
            "Movers",
            "role changes: new groups and OU, the old role's groups removed",
        ),
        Lifecycle::Leaver => (
            "Leavers",
            "accounts disabled, access removed, moved to the disabled OU",
        ),
        Lifecycle::Rehire => (
            "Rehires",
            "disabled accounts enabled again for their current role",
        ),
        Lifecycle::Return => (
            "Returns",
            "back from a leave during which the account was disabled",
        ),
        Lifecycle::Update => ("Updates", "changes of attributes only"),
    }
}

fn summary(out: &mut String, plan: &Plan) {
    out.push_str("<section id=\"summary\"><h2>Summary</h2><table class=\"summary\"><tbody>");
    for lifecycle in Lifecycle::ALL {
        let (heading, meaning) = lifecycle_words(lifecycle);
        let _ = write!(
            out,
            "<tr data-lifecycle=\"{}\"><th>{heading}</th><td class=\"count\">{}</td>\
             <td class=\"muted\">{meaning}</td></tr>",
            lifecycle.as_str(),
            plan.summary.of(lifecycle),
        );
    }
    let s = &plan.summary;
    let rows = [
        (
            "Changes in all",
            s.changes,
            "each one listed below with its reason",
        ),
        (
            "Terminations to come",
            plan.scheduled.len(),
            "not part of this plan; shown for the record",
        ),
        ("Skipped", s.skipped, "left as they are, with the reason"),
        (
            "Orphans",
            s.orphans,
            "in the directory but not in HR: reported, not changed",
        ),
    ];
    for (heading, count, meaning) in rows {
        let _ = write!(
            out,
            "<tr><th>{heading}</th><td class=\"count\">{count}</td><td class=\"muted\">{meaning}</td></tr>"
        );
    }
    out.push_str("</tbody></table>");
    if !plan.has_changes() {
        out.push_str("<p><strong>No changes: the directory matches HR.</strong></p>");
    }
    out.push_str("</section>\n");
}

/// An account as the page shows and filters it.
struct AccountView<'a> {
    account: &'a AccountPlan,
    name: String,
    departments: BTreeSet<String>,
    /// The groups its changes touch.
    groups: BTreeSet<Dn>,
}

impl<'a> AccountView<'a> {
    fn of(account: &'a AccountPlan) -> Self {
        let groups = account
            .changes
            .iter()
            .filter_map(|change| match &change.action {
                Action::AddToGroup { group }
                | Action::RemoveFromGroup { group }
                | Action::RenameMember { group, .. } => Some(group.clone()),
                _ => None,
            })
            .collect();
        Self {
            account,
            name: display_name(account),
            departments: departments(account),
            groups,
        }
    }
}

/// Every value `account` has or gets for one of `names` (compared case-insensitively), in the
/// order of `names`: the new entry's, then the changes' (old and new), then the account's as read.
fn values_of(account: &AccountPlan, names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for name in names {
        let is = |attribute: &str| attribute.eq_ignore_ascii_case(name);
        for change in &account.changes {
            match &change.action {
                Action::Create { attributes, .. } => found.extend(
                    attributes
                        .iter()
                        .filter(|(a, _)| is(a))
                        .flat_map(|(_, values)| values.iter().cloned()),
                ),
                Action::SetAttribute {
                    attribute,
                    before,
                    after,
                } if is(attribute) => found.extend(after.iter().chain(before).cloned()),
                _ => {}
            }
        }
        if let Some(before) = &account.before {
            found.extend(
                before
                    .attributes
                    .iter()
                    .filter(|(a, _)| is(a))
                    .flat_map(|(_, values)| values.iter().cloned()),
            );
        }
    }
    found.retain(|v| !v.trim().is_empty());
    found
}

/// The account's name for people: its display name or common name (the new one when it
/// changes), else its RDN's value.
fn display_name(account: &AccountPlan) -> String {
    values_of(account, &NAME_ATTRIBUTES)
        .into_iter()
        .next()
        .or_else(|| account.dn.rdn_avas().into_iter().next().map(|a| a.value))
        .unwrap_or_else(|| account.dn.to_string())
}

/// The departments the account is in or moves to: the values of a mapped department attribute
/// when there is one, else the name of its OU (for a mover, the old one and the new one; for a
/// leaver, the one it leaves rather than the disabled OU).
fn departments(account: &AccountPlan) -> BTreeSet<String> {
    let mapped: BTreeSet<String> = values_of(account, &DEPARTMENT_ATTRIBUTES)
        .into_iter()
        .collect();
    if !mapped.is_empty() {
        return mapped;
    }
    let target = account.changes.iter().find_map(|c| match &c.action {
        Action::Move { to, .. } => Some(to),
        _ => None,
    });
    let mut entries = vec![&account.dn];
    match (account.lifecycle, target) {
        (Lifecycle::Leaver, _) | (_, None) => {}
        (Lifecycle::Mover, Some(to)) => entries.push(to),
        (_, Some(to)) => entries = vec![to],
    }
    entries
        .into_iter()
        .filter_map(|dn| dn.parent())
        .map(|ou| short_name(&ou))
        .collect()
}

/// A DN's first RDN value (`cn=vpn,ou=groups,...` -> `vpn`), for people.
fn short_name(dn: &Dn) -> String {
    dn.rdn_avas()
        .into_iter()
        .next()
        .map_or_else(|| dn.to_string(), |a| a.value)
}

fn filters(out: &mut String, views: &[AccountView<'_>]) {
    if views.is_empty() {
        return;
    }
    // Hidden until the script runs: without it, every account is shown and nothing filters.
    out.push_str(
        "<nav id=\"filters\" hidden aria-label=\"Filters\">\
         <label>Search <input type=\"search\" id=\"filter-search\" \
         placeholder=\"name, employee id, DN, group, value\"></label>\
         <fieldset><legend>Lifecycle</legend>",
    );
    for lifecycle in Lifecycle::ALL {
        let count = views
            .iter()
            .filter(|v| v.account.lifecycle == lifecycle)
            .count();
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" name=\"lifecycle\" value=\"{0}\" checked> {0} ({count})</label>",
            lifecycle.as_str()
        );
    }
    out.push_str("</fieldset><label>Department <select id=\"filter-department\"><option value=\"\">all</option>");
    let departments: BTreeSet<&str> = views
        .iter()
        .flat_map(|v| v.departments.iter().map(String::as_str))
        .collect();
    for department in departments {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", Esc(department));
    }
    out.push_str(
        "</select></label><label>Group <select id=\"filter-group\"><option value=\"\">all</option>",
    );
    let groups: BTreeSet<&Dn> = views.iter().flat_map(|v| v.groups.iter()).collect();
    for group in groups {
        let _ = write!(
            out,
            "<option value=\"{}\">{} ({})</option>",
            Esc(group.as_str()),
            Esc(&short_name(group)),
            Esc(group.as_str()),
        );
    }
    out.push_str(
        "</select></label><button type=\"button\" id=\"filter-reset\">Show all</button>\
         <p id=\"filter-status\" role=\"status\"></p></nav>\n",
    );
}

fn accounts(out: &mut String, views: &[AccountView<'_>]) {
    for lifecycle in Lifecycle::ALL {
        let these: Vec<&AccountView<'_>> = views
            .iter()
            .filter(|v| v.account.lifecycle == lifecycle)
            .collect();
        if these.is_empty() {
            continue;
        }
        let (heading, meaning) = lifecycle_words(lifecycle);
        let _ = writeln!(
            out,
            "<section class=\"lifecycle\" id=\"lifecycle-{0}\" data-lifecycle=\"{0}\">\
             <h2>{heading} <span class=\"muted\">({1})</span></h2><p class=\"muted\">{meaning}</p>",
            lifecycle.as_str(),
            these.len()
        );
        for view in these {
            account(out, view);
        }
        out.push_str("</section>\n");
    }
}

/// A JSON list of strings, for a `data-` attribute the script reads (escaped by the caller).
fn json_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_string())
}

fn account(out: &mut String, view: &AccountView<'_>) {
    let account = view.account;
    let departments = json_list(view.departments.iter().map(String::as_str));
    let groups = json_list(view.groups.iter().map(Dn::as_str));
    let lifecycle = account.lifecycle.as_str();
    let _ = write!(
        out,
        "<article class=\"account\" data-lifecycle=\"{lifecycle}\" data-employee=\"{}\" \
         data-departments=\"{}\" data-groups=\"{}\">\
         <h3><span class=\"name\">{}</span> <span class=\"badge {lifecycle}\">{lifecycle}</span></h3>\
         <p class=\"meta\">employee {} · <span class=\"dn\">{}</span>",
        Esc(&account.employee_id),
        Esc(&departments),
        Esc(&groups),
        Esc(&view.name),
        Esc(&account.employee_id),
        Esc(account.dn.as_str()),
    );
    if !view.departments.is_empty() {
        let names: Vec<&str> = view.departments.iter().map(String::as_str).collect();
        let _ = write!(out, " · department {}", Esc(&names.join(", ")));
    }
    out.push_str("</p><ol class=\"changes\">");
    for change in &account.changes {
        change_item(out, change);
    }
    out.push_str("</ol></article>\n");
}

/// Whether a change grants access, takes it away, or neither (for its mark).
fn kind(action: &Action) -> &'static str {
    match action {
        Action::Create { .. } | Action::Enable { .. } | Action::AddToGroup { .. } => "grant",
        Action::Disable { .. } | Action::RemoveFromGroup { .. } => "revoke",
        _ => "update",
    }
}

fn change_item(out: &mut String, change: &Change) {
    let _ = write!(
        out,
        "<li class=\"change {}\" data-action=\"{}\"><span class=\"what\">",
        kind(&change.action),
        change.action.name()
    );
    what(out, &change.action);
    out.push_str("</span>");
    if let Action::Create { attributes, .. } = &change.action {
        out.push_str("<ul class=\"values\">");
        for (name, values) in attributes {
            // Object classes say what kind of entry it is, in one line: no approver weighs them
            // one by one.
            if name.eq_ignore_ascii_case("objectClass") {
                let _ = write!(
                    out,
                    "<li><code>{}</code>: {}</li>",
                    Esc(name),
                    Esc(&values.join(", "))
                );
                continue;
            }
            for value in values {
                let _ = write!(out, "<li><code>{}</code>: {}</li>", Esc(name), Esc(value));
            }
        }
        out.push_str("</ul>");
    }
    let _ = write!(
        out,
        "<span class=\"why\">because {}</span></li>",
        Esc(&change.reason.to_string())
    );
}

/// What one change does, in plain words (escaped).
fn what(out: &mut String, action: &Action) {
    match action {
        Action::Create { dn, .. } => {
            let _ = write!(
                out,
                "Create the account <span class=\"dn\">{}</span> with these values:",
                Esc(dn.as_str()),
            );
        }
        Action::Enable {
            account_control,
            set_password,
            clear_expiry,
            ..
        } => {
            let how = enable_how(*account_control, *set_password, *clear_expiry);
            let _ = write!(out, "Enable the account{}", Esc(&parenthesised(&how)));
        }
        Action::Disable {
            method,
            account_control,
            expires,
        } => {
            let how = disable_how(*method, *account_control, expires.as_deref());
            let _ = write!(
                out,
                "Disable the account: it can no longer sign in{}",
                Esc(&parenthesised(&how))
            );
        }
        Action::SetAttribute {
            attribute,
            before,
            after,
        } => set_attribute(out, attribute, before, after),
        Action::Move { from, to } => move_words(out, from, to),
        Action::AddToGroup { group } => group_words(out, "Add to group", group),
        Action::RemoveFromGroup { group } => group_words(out, "Remove from group", group),
        Action::RenameMember { group, .. } => {
            group_words(
                out,
                "Keep the membership (under the new DN) of group",
                group,
            );
        }
        Action::AddValue { attribute, value } => {
            value_words(out, ("Add", "to"), value, attribute);
        }
        Action::RemoveValue { attribute, value } => {
            value_words(out, ("Remove", "from"), value, attribute);
        }
    }
}

fn move_words(out: &mut String, from: &Dn, to: &Dn) {
    let (from, to) = (parent_of(from), parent_of(to));
    let _ = write!(
        out,
        "Move to <strong>{}</strong> <span class=\"dn\">{}</span> (from <span class=\"dn\">{}</span>)",
        Esc(&short_name(&to)),
        Esc(to.as_str()),
        Esc(from.as_str())
    );
}

/// One value added to or removed from an attribute (hrsync's marks).
fn value_words(out: &mut String, (verb, preposition): (&str, &str), value: &str, attribute: &str) {
    let _ = write!(
        out,
        "{verb} the value {} {preposition} <code>{}</code>",
        Esc(&format!("{value:?}")),
        Esc(attribute)
    );
}

fn set_attribute(out: &mut String, attribute: &str, before: &[String], after: &[String]) {
    let attribute = Esc(attribute);
    let _ = match (before.is_empty(), after.is_empty()) {
        (true, _) => write!(out, "Set <code>{attribute}</code> to {}", Esc(&show(after))),
        (false, true) => write!(
            out,
            "Clear <code>{attribute}</code> (was {})",
            Esc(&show(before))
        ),
        (false, false) => write!(
            out,
            "Change <code>{attribute}</code>: {} → {}",
            Esc(&show(before)),
            Esc(&show(after))
        ),
    };
}

fn group_words(out: &mut String, verb: &str, group: &Dn) {
    let _ = write!(
        out,
        "{verb} <strong>{}</strong> <span class=\"dn\">{}</span>",
        Esc(&short_name(group)),
        Esc(group.as_str())
    );
}

fn parent_of(dn: &Dn) -> Dn {
    dn.parent().unwrap_or_else(|| dn.clone())
}

fn group_changes(out: &mut String, plan: &Plan) {
    if plan.group_changes.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"group-changes\"><h2>Group upkeep</h2><p class=\"muted\">A group must keep \
         at least one member: a placeholder member holds it while it has no real one.</p>\
         <ul class=\"plain\">",
    );
    for change in &plan.group_changes {
        let verb = match change.action {
            GroupAction::AddPlaceholder => "Add the placeholder",
            GroupAction::RemovePlaceholder => "Remove the placeholder",
        };
        let _ = write!(
            out,
            "<li>{verb} <span class=\"dn\">{}</span> {} group <strong>{}</strong> \
             <span class=\"dn\">{}</span><span class=\"why\">because {}</span></li>",
            Esc(change.member.as_str()),
            if change.action == GroupAction::AddPlaceholder {
                "to"
            } else {
                "from"
            },
            Esc(&short_name(&change.group)),
            Esc(change.group.as_str()),
            Esc(&change.reason.to_string()),
        );
    }
    out.push_str("</ul></section>\n");
}

fn scheduled(out: &mut String, plan: &Plan, names: &BTreeMap<&str, &str>) {
    if plan.scheduled.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"scheduled\"><h2>Terminations to come</h2><p class=\"muted\">Not part of \
         this plan: a later run disables these accounts when the date comes.</p><ul class=\"plain\">",
    );
    for scheduled in &plan.scheduled {
        let who = names
            .get(scheduled.employee_id.as_str())
            .map(|name| format!(" ({name})"))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li>Employee {}{} leaves at {}<span class=\"why\">{}</span></li>",
            Esc(&scheduled.employee_id),
            Esc(&who),
            scheduled.leaves_at.format("%Y-%m-%d %H:%M UTC"),
            Esc(&scheduled.reason),
        );
    }
    out.push_str("</ul></section>\n");
}

fn skipped(out: &mut String, plan: &Plan) {
    if plan.skipped.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"skipped\"><h2>Skipped</h2><p class=\"muted\">Left as they are.</p>\
         <ul class=\"plain\">",
    );
    for skipped in &plan.skipped {
        let who = match (&skipped.employee_id, &skipped.dn) {
            (Some(id), Some(dn)) => format!("employee {id} ({dn})"),
            (Some(id), None) => format!("employee {id}"),
            (None, Some(dn)) => dn.to_string(),
            (None, None) => "a record".to_string(),
        };
        let _ = write!(
            out,
            "<li>{}<span class=\"why\">{}</span></li>",
            Esc(&who),
            Esc(&skipped.reason)
        );
    }
    out.push_str("</ul></section>\n");
}

fn orphans(out: &mut String, plan: &Plan) {
    if plan.orphans.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"orphans\"><h2>Orphans</h2><p class=\"muted\">In the directory, not in HR: \
         reported, not changed.</p><ul class=\"plain\">",
    );
    for orphan in &plan.orphans {
        let _ = write!(
            out,
            "<li><span class=\"dn\">{}</span> (id {})</li>",
            Esc(orphan.dn.as_str()),
            Esc(&orphan.correlation_id)
        );
    }
    out.push_str("</ul></section>\n");
}

fn footer(out: &mut String) {
    out.push_str(
        "<footer><p>Made by hrsync. This page is one file: it loads nothing and sends nothing \
         (its Content-Security-Policy allows no request), and runs only its own filter script. \
         The plan it shows is embedded in it (the <code>hrsync-plan</code> block): that is what \
         <code>hrsync apply --plan</code> reads, and it refuses the page if what is shown is not \
         what the embedded plan says.</p></footer>\n",
    );
}

/// The saved plan as a JSON data block: pretty-printed, with `<`, `>`, `&`, U+2028 and U+2029
/// written as `\u` escapes. Those characters only ever occur inside JSON strings, where the
/// escapes mean the same; without a `<`, nothing in the block can end it or start a comment.
fn embedded(out: &mut String, saved: &Value) {
    let json = serde_json::to_string_pretty(saved).unwrap_or_else(|_| "{}".to_string());
    out.push_str(PLAN_BLOCK_START);
    out.push('\n');
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out.push_str(PLAN_BLOCK_END);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Reason;

    const SCRIPT_NAME: &str = "<script>document.title='pwned'</script>";
    const IMG_NAME: &str = "\"><img src=x onerror=\"document.title='pwned'\">";
    const CLOSER: &str = "</script><script>document.title='pwned'</script><!--";
    const QUOTE_ID: &str = "7' onmouseover='document.title=1";

    fn saved_of(plan: &Plan) -> Value {
        let mut value = serde_json::to_value(&*plan.masked()).unwrap();
        value["made_by"] = Value::from("ann@laptop</script>");
        value
    }

    /// The every-lifecycle plan of the text renderer's tests, with hostile HR values in a new
    /// account's name, a changed title, an employee id, a reason, a warning and a department.
    fn hostile() -> Plan {
        let mut plan = crate::render::text::tests::every_lifecycle();
        for account in &mut plan.accounts {
            for change in &mut account.changes {
                match &mut change.action {
                    Action::Create { attributes, .. } => {
                        attributes.insert("cn".into(), vec![SCRIPT_NAME.into()]);
                        attributes.insert("departmentNumber".into(), vec![IMG_NAME.into()]);
                        attributes.insert("title".into(), vec!["Line\u{2028}Sep\u{2029}".into()]);
                    }
                    Action::SetAttribute { after, .. } => *after = vec![CLOSER.into()],
                    _ => {}
                }
            }
            if account.lifecycle == Lifecycle::Update {
                account.employee_id = QUOTE_ID.into();
                account.changes[0].reason = Reason::fact(format!("title = {CLOSER:?}"));
            }
        }
        plan.warnings.push(format!("manager {IMG_NAME} is unknown"));
        plan
    }

    /// The start tags of `page`, each as its name and its attributes' names (the values are
    /// quoted and hold no `"`: every `"` in a value is escaped).
    fn tags(page: &str) -> Vec<(String, Vec<String>)> {
        let mut tags = Vec::new();
        for (at, _) in page.match_indices('<') {
            let rest = &page[at + 1..];
            if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
                continue;
            }
            let name_end = rest.find([' ', '>']).unwrap();
            let mut attributes = Vec::new();
            let mut inside = &rest[name_end..];
            loop {
                inside = inside.trim_start();
                if inside.starts_with('>') {
                    break;
                }
                let end = inside.find(['=', ' ', '>']).unwrap();
                attributes.push(inside[..end].to_ascii_lowercase());
                inside = &inside[end..];
                if let Some(value) = inside.strip_prefix("=\"") {
                    inside = &value[value.find('"').unwrap() + 1..];
                } else if let Some(value) = inside.strip_prefix('=') {
                    // Unquoted: only if escaping failed; taken whole so the loop goes on.
                    inside = &value[value.find([' ', '>']).unwrap_or(value.len())..];
                }
            }
            tags.push((rest[..name_end].to_ascii_lowercase(), attributes));
        }
        tags
    }

    #[test]
    fn hostile_values_are_text_and_nothing_can_end_the_embedded_plan() {
        let plan = hostile();
        let saved = saved_of(&plan);
        let page = page(&plan, &saved, "sha256:00ff");
        // Shown as text.
        assert!(page.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror="), "{page}");
        assert!(page.contains("7&#39; onmouseover=&#39;document.title=1"));
        // Exactly two script elements (the plan and the filter), one style, no image, and no
        // element with an event handler, a source or a link.
        let tags = tags(&page);
        let count = |name: &str| tags.iter().filter(|(t, _)| t == name).count();
        assert_eq!(count("script"), 2, "{tags:#?}");
        assert_eq!(count("style"), 1);
        assert_eq!(count("img"), 0);
        for (tag, attributes) in &tags {
            for attribute in attributes {
                assert!(
                    !attribute.starts_with("on") && attribute != "src" && attribute != "href",
                    "<{tag} {attribute}>"
                );
            }
        }
        assert!(!page.contains("http://") && !page.contains("https://"));
        // The embedded plan: no `<`, no line or paragraph separator, and it reads back whole.
        let block = embedded_plan(&page).unwrap();
        assert!(!block.contains('<') && !block.contains('>') && !block.contains('&'));
        assert!(!block.contains('\u{2028}') && !block.contains('\u{2029}'));
        assert!(block.contains("\\u003c/script\\u003e"), "{block}");
        assert_eq!(serde_json::from_str::<Value>(block).unwrap(), saved);
        // What the page shows contains no raw separator either (it is escaped as text only,
        // which is fine for HTML: the JSON block was the one place it mattered).
        assert!(page.contains("Line\u{2028}Sep"));
    }

    #[test]
    fn the_csp_allows_the_page_s_own_script_and_style_and_nothing_else() {
        let plan = hostile();
        let page = page(&plan, &saved_of(&plan), "sha256:00ff");
        let csp_at = page.find("Content-Security-Policy\" content=\"").unwrap();
        let csp = &page[csp_at..page[csp_at..].find("\">").unwrap() + csp_at];
        assert!(csp.contains("default-src &#39;none&#39;"), "{csp}");
        assert!(csp.contains("base-uri &#39;none&#39;; form-action &#39;none&#39;"));
        assert!(!csp.contains("unsafe"), "{csp}");
        // The hashes are of the inline script and style as they are in the page.
        let inline = |open: &str, close: &str| {
            let at = page.rfind(open).unwrap() + open.len();
            page[at..at + page[at..].find(close).unwrap()].to_string()
        };
        let script = inline("<script>", "</script>");
        let style = inline("<style>", "</style>");
        assert_eq!(script, SCRIPT);
        for (name, text) in [("script-src", &script), ("style-src", &style)] {
            let hash = csp_hash(text).replace('\'', "&#39;");
            assert!(csp.contains(&format!("{name} {hash}")), "{name}: {csp}");
        }
    }

    #[test]
    fn limits_and_warnings_come_first_then_the_counts_then_the_accounts_by_lifecycle() {
        let plan = crate::render::text::tests::every_lifecycle();
        let page = page(&plan, &saved_of(&plan), "sha256:0123abcd");
        let at = |needle: &str| {
            page.find(needle)
                .unwrap_or_else(|| panic!("{needle} not in the page"))
        };
        assert!(at("id=\"plan-digest\">sha256:0123abcd<") < at("id=\"limits\""));
        assert!(at("id=\"limits\"") < at("id=\"warnings\""));
        assert!(at("id=\"warnings\"") < at("id=\"summary\""));
        assert!(at("id=\"summary\"") < at("id=\"filters\""));
        let mut previous = at("id=\"filters\"");
        for lifecycle in Lifecycle::ALL {
            let section = at(&format!("id=\"lifecycle-{}\"", lifecycle.as_str()));
            assert!(previous < section, "{lifecycle:?}");
            previous = section;
        }
        assert!(previous < at("id=\"group-changes\""));
        assert!(at("id=\"scheduled\"") < at("id=\"skipped\""));
        assert!(at("id=\"skipped\"") < at("id=\"orphans\""));
        // The limit names the account by name; the changes are in words, with their reasons.
        assert!(page.contains("accounts: Cy Young (3)"), "{page}");
        assert!(page.contains(
            "Add to group <strong>vpn</strong> <span class=\"dn\">cn=vpn,ou=groups,dc=ex</span>"
        ));
        assert!(page.contains(
            "Disable the account: it can no longer sign in (pwdAccountLockedTime: 000001010000Z)"
        ));
        assert!(
            page.contains(
                "Change <code>title</code>: &quot;Intern&quot; → &quot;Engineering&quot;"
            )
        );
        assert!(page.contains("Move to <strong>sales</strong>"));
        assert!(page.contains("because status = terminated (&quot;Inactive&quot;) (leaver)"));
        assert!(page.contains("Employee 7 leaves at 2027-01-01 00:00 UTC"));
        assert!(
            page.contains(
                "Remove the value &quot;hrsync-joining&quot; from <code>description</code>"
            )
        );
        assert!(
            page.contains(
                "<tr data-lifecycle=\"leaver\"><th>Leavers</th><td class=\"count\">1</td>"
            )
        );
    }

    #[test]
    fn departments_and_groups_are_what_the_filters_offer() {
        let plan = crate::render::text::tests::every_lifecycle();
        let views: Vec<AccountView<'_>> = plan.accounts.iter().map(AccountView::of).collect();
        let of = |id: &str| {
            let view = views.iter().find(|v| v.account.employee_id == id).unwrap();
            let groups: Vec<String> = view.groups.iter().map(short_name).collect();
            (view.name.as_str(), view.departments.clone(), groups)
        };
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        // No department attribute in these mappings: the OU names stand in.
        let (name, departments, groups) = of("2");
        assert_eq!(name, "Bob Stone");
        assert_eq!(departments, set(&["eng", "sales"]), "a mover: old and new");
        assert_eq!(groups, ["engineering", "sales", "staff", "vpn"]);
        assert_eq!(of("3").1, set(&["eng"]), "a leaver: not the disabled OU");
        assert_eq!(of("4").1, set(&["sales"]), "a rehire: where it goes");
        assert_eq!(of("1").0, "Ada Lovelace", "a joiner: from the new entry");

        // A mapped department attribute wins, old and new values alike.
        let mut plan = plan;
        let bob = plan
            .accounts
            .iter_mut()
            .find(|a| a.employee_id == "2")
            .unwrap();
        bob.before
            .as_mut()
            .unwrap()
            .attributes
            .insert("departmentnumber".into(), vec!["Engineering".into()]);
        bob.changes.push(Change {
            action: Action::SetAttribute {
                attribute: "departmentNumber".into(),
                before: vec!["Engineering".into()],
                after: vec!["Sales".into()],
            },
            reason: Reason::fact("department = \"Sales\""),
        });
        assert_eq!(
            AccountView::of(bob).departments,
            set(&["Engineering", "Sales"])
        );
        let page = page(&plan, &saved_of(&plan), "sha256:00");
        assert!(page.contains("data-departments=\"[&quot;Engineering&quot;,&quot;Sales&quot;]\""));
        assert!(page.contains("<option value=\"Sales\">Sales</option>"));
        assert!(page.contains(
            "<option value=\"cn=vpn,ou=groups,dc=ex\">vpn (cn=vpn,ou=groups,dc=ex)</option>"
        ));
    }

    #[test]
    fn the_embedded_plan_is_found_once_or_refused() {
        let plan = crate::render::text::tests::every_lifecycle();
        let page = page(&plan, &saved_of(&plan), "sha256:00");
        assert!(is_page(&page) && is_page("\u{feff}\n <!DOCTYPE html>") && !is_page(" {}"));
        let block = embedded_plan(&page).unwrap();
        assert!(block.contains("\"schema\": \"hrsync.plan/v1\""), "{block}");
        let twice = format!("{page}{PLAN_BLOCK_START}{{}}{PLAN_BLOCK_END}");
        assert!(embedded_plan(&twice).unwrap_err().contains("more than one"));
        let none = page.replace(PLAN_BLOCK_START, "<script>");
        assert!(
            embedded_plan(&none)
                .unwrap_err()
                .contains("without hrsync's embedded plan")
        );
    }

    #[test]
    fn escaping_covers_the_five_characters() {
        assert_eq!(
            Esc("a&b<c>d\"e'f").to_string(),
            "a&amp;b&lt;c&gt;d&quot;e&#39;f"
        );
        assert_eq!(Esc("plain é → text").to_string(), "plain é → text");
    }
}
