// The approval page's filters: a search box, the lifecycles, a department and a group. An
// account that does not match gets the `hidden` attribute; a lifecycle section with no account
// shown is hidden too. The filter lives in the URL's fragment (#lifecycle=leaver&group=...), so a
// view can be linked and is restored on load. Nothing here reads or sends anything else: the
// page's Content-Security-Policy allows this script only, and no request at all.
(function () {
  "use strict";
  var filters = document.getElementById("filters");
  if (!filters) {
    return;
  }
  var accounts = Array.prototype.slice.call(document.querySelectorAll("article.account"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.lifecycle"));
  var search = document.getElementById("filter-search");
  var boxes = Array.prototype.slice.call(filters.querySelectorAll("input[name=lifecycle]"));
  var department = document.getElementById("filter-department");
  var group = document.getElementById("filter-group");
  var status = document.getElementById("filter-status");
  var reset = document.getElementById("filter-reset");

  function list(element, name) {
    try {
      var value = JSON.parse(element.getAttribute(name) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (e) {
      return [];
    }
  }

  function chosenLifecycles() {
    return boxes.filter(function (box) { return box.checked; })
      .map(function (box) { return box.value; });
  }

  function matches(account, query, lifecycles) {
    if (lifecycles.indexOf(account.getAttribute("data-lifecycle")) < 0) {
      return false;
    }
    if (department.value && list(account, "data-departments").indexOf(department.value) < 0) {
      return false;
    }
    if (group.value && list(account, "data-groups").indexOf(group.value) < 0) {
      return false;
    }
    return !query || account.textContent.toLowerCase().indexOf(query) >= 0;
  }

  function show() {
    var query = search.value.trim().toLowerCase();
    var lifecycles = chosenLifecycles();
    var shown = 0;
    accounts.forEach(function (account) {
      var match = matches(account, query, lifecycles);
      account.hidden = !match;
      if (match) {
        shown += 1;
      }
    });
    sections.forEach(function (section) {
      section.hidden = !section.querySelector("article.account:not([hidden])");
    });
    status.textContent = "Showing " + shown + " of " + accounts.length + " account(s)" +
      (shown === accounts.length ? "." : ": the filters hide the others.");
    filters.setAttribute("data-shown", String(shown));
  }

  function fragment() {
    var params = new URLSearchParams();
    var lifecycles = chosenLifecycles();
    if (lifecycles.length !== boxes.length) {
      params.set("lifecycle", lifecycles.join(","));
    }
    if (department.value) {
      params.set("department", department.value);
    }
    if (group.value) {
      params.set("group", group.value);
    }
    if (search.value.trim()) {
      params.set("q", search.value.trim());
    }
    return params.toString();
  }

  function remember() {
    try {
      history.replaceState(null, "", "#" + fragment());
    } catch (e) {
      // A browser that refuses (some do for file: pages) keeps the filter, not the link.
    }
  }

  function choose(select, value) {
    if (!value) {
      return;
    }
    var known = Array.prototype.some.call(select.options, function (option) {
      return option.value === value;
    });
    if (!known) {
      // Asked for in the link but not in this plan: an option of its own, matching nothing.
      var option = document.createElement("option");
      option.value = value;
      option.textContent = value + " (not in this plan)";
      select.appendChild(option);
    }
    select.value = value;
  }

  function restore() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.has("lifecycle")) {
      var wanted = params.get("lifecycle").split(",");
      boxes.forEach(function (box) { box.checked = wanted.indexOf(box.value) >= 0; });
    }
    choose(department, params.get("department"));
    choose(group, params.get("group"));
    search.value = params.get("q") || "";
  }

  function changed() {
    show();
    remember();
  }

  search.addEventListener("input", changed);
  department.addEventListener("change", changed);
  group.addEventListener("change", changed);
  boxes.forEach(function (box) { box.addEventListener("change", changed); });
  reset.addEventListener("click", function () {
    boxes.forEach(function (box) { box.checked = true; });
    department.value = "";
    group.value = "";
    search.value = "";
    changed();
  });
  window.addEventListener("hashchange", function () {
    restore();
    show();
  });
  restore();
  show();
  filters.hidden = false;
})();
