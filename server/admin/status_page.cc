#include "server/admin/status_page.h"

#include <google/protobuf/util/json_util.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/admin/fire_metrics.h"
#include "server/delivery/delivery_metrics.h"

namespace chime::admin {
namespace {

constexpr char kPage[] = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chime status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
  .sub { color: #666; }
  .cards { display: flex; flex-wrap: wrap; gap: 1em; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; min-width: 14em; }
  .big { font-size: 1.8em; font-weight: 600; }
  table { border-collapse: collapse; background: #fff; }
  th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
  th:first-child, td:first-child { text-align: left; }
  .bad { color: #b00; font-weight: 600; }
  .ok { color: #070; font-weight: 600; }
  svg { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
</style>
</head>
<body>
<h1>chime <span id="node"></span></h1>
<div class="sub"><span id="version"></span> &middot; up <span id="uptime"></span> &middot;
  <span id="ready"></span> &middot; updated <span id="updated">never</span> <span id="error" class="bad"></span></div>

<div class="cards">
  <div class="card"><div>pending timers</div><div class="big" id="pending">-</div>
    <div class="sub"><span id="delivering">-</span> pending delivery</div></div>
  <div class="card"><div>oldest overdue timer</div><div class="big" id="overdue">-</div>
    <div class="sub" id="overdue-detail"></div></div>
  <div class="card"><div>storage</div><div class="big" id="storage">-</div>
    <div class="sub" id="shard-count"></div></div>
</div>

<h2>Pending timers over time</h2>
<svg id="chart" width="640" height="140" viewBox="0 0 640 140" role="img" aria-label="pending timers over time">
  <polyline id="line" fill="none" stroke="#2a6ebb" stroke-width="2" points=""></polyline>
  <text id="chart-max" x="4" y="14" font-size="11" fill="#666"></text>
  <text x="4" y="134" font-size="11" fill="#666">0</text>
</svg>

<h2>Fire lateness</h2>
<table id="lateness">
  <thead><tr><th>stage</th><th>count</th><th>p50</th><th>p90</th><th>p99</th></tr></thead>
  <tbody></tbody>
</table>

<h2>Delivery backlog per topic</h2>
<table id="topics">
  <thead><tr><th>namespace/topic</th><th>subscribers</th><th>ready</th><th>in flight</th><th>backlog on disk</th></tr></thead>
  <tbody></tbody>
</table>

<h2>Shards</h2>
<table id="shards">
  <thead><tr><th>shard</th><th>scheduled</th><th>delivering</th><th>dead letters</th><th>in window</th><th>held for room</th><th>fired</th><th>disk</th></tr></thead>
  <tbody></tbody>
</table>

<script>
"use strict";
const history = [];  // [time ms, pending]
const maxPoints = 150;

function num(v) { return Number(v || 0); }
function set(id, text) { document.getElementById(id).textContent = text; }
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; u++; }
  return (u ? n.toFixed(1) : n) + " " + units[u];
}
function seconds(s) {
  if (s === undefined || s === null) return "-";
  if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(1) + " ms";
  return s.toFixed(2) + " s";
}
function duration(d) {  // proto Duration JSON: "12.5s"
  const s = parseFloat(d || "0");
  if (s < 60) return s.toFixed(0) + "s";
  if (s < 3600) return (s / 60).toFixed(0) + "m";
  if (s < 86400) return (s / 3600).toFixed(1) + "h";
  return (s / 86400).toFixed(1) + "d";
}
function fillRows(tableId, rows) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = String(c);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}
function drawChart() {
  const w = 640, h = 140, top = 20, bottom = 10;
  const max = Math.max(1, ...history.map(p => p[1]));
  const pts = history.map((p, i) => {
    const x = history.length < 2 ? w : (i / (maxPoints - 1)) * w;
    const y = h - bottom - (p[1] / max) * (h - top - bottom);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  document.getElementById("line").setAttribute("points", pts.join(" "));
  set("chart-max", String(max));
}
function render(data) {
  const s = data.status;
  set("node", s.node_id);
  set("version", "version " + s.version);
  set("uptime", duration(s.uptime));
  const ready = document.getElementById("ready");
  ready.textContent = s.ready ? "ready" : "not ready";
  ready.className = s.ready ? "ok" : "bad";
  const pending = num(s.timers_scheduled);
  set("pending", String(pending));
  set("delivering", String(num(s.deliveries_pending)));
  if (s.oldest_overdue && s.oldest_overdue.timer_id) {
    const o = s.oldest_overdue;
    set("overdue", duration(o.overdue_by));
    set("overdue-detail", o.namespace + "/" + o.timer_id + " (shard " + num(o.shard) + ")");
    document.getElementById("overdue").className = "big bad";
  } else {
    set("overdue", "none");
    set("overdue-detail", "");
    document.getElementById("overdue").className = "big";
  }
  set("storage", bytes(num(s.storage_bytes)));
  set("shard-count", (s.shards || []).length + " shards in " + s.data_dir);
  fillRows("lateness", [["scheduled → dispatched", data.lateness.dispatch],
                        ["scheduled → sent", data.lateness.sent],
                        ["scheduled → acked", data.lateness.ack]].map(([name, l]) =>
    l.count > 0 ? [name, l.count, seconds(l.p50), seconds(l.p90), seconds(l.p99)]
                : [name, 0, "-", "-", "-"]));
  const topics = (s.topics || []).map(t => [t.namespace + "/" + t.topic, num(t.subscribers),
    num(t.ready), num(t.in_flight), t.backlog_on_disk ? "yes" : "no"]);
  fillRows("topics", topics.length ? topics : [["none subscribed", "", "", "", ""]]);
  fillRows("shards", (s.shards || []).map(sh => [num(sh.shard), num(sh.timers_scheduled),
    num(sh.deliveries_pending), num(sh.dead_letters), num(sh.window_timers), num(sh.held_fires),
    num(sh.fired_total),
    bytes(num(sh.disk_bytes))]));
  history.push([Date.now(), pending]);
  if (history.length > maxPoints) history.shift();
  drawChart();
  set("updated", new Date().toLocaleTimeString());
  set("error", "");
}
async function refresh() {
  try {
    const response = await fetch("status.json", {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (e) {
    set("error", "cannot load status: " + e.message);
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";

std::string LatenessJson(const metrics::Histogram& h) {
  return absl::StrFormat(R"({"count":%d,"p50":%.9g,"p90":%.9g,"p99":%.9g})", h.Count(),
                         HistogramQuantile(h, 0.5), HistogramQuantile(h, 0.9),
                         HistogramQuantile(h, 0.99));
}

metrics::Histogram* Lookup(metrics::Registry* registry, const char* name, const char* help) {
  absl::StatusOr<metrics::HistogramFamily*> family = registry->AddHistogram(name, help);
  return family.ok() ? (*family)->WithLabels({}) : nullptr;
}

}  // namespace

double HistogramQuantile(const metrics::Histogram& histogram, double q) {
  const std::vector<uint64_t> cumulative = histogram.CumulativeCounts();
  const std::vector<double>& bounds = histogram.bounds();
  const uint64_t total = cumulative.back();
  if (total == 0) return 0;
  const double rank = q * static_cast<double>(total);
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (static_cast<double>(cumulative[i]) >= rank) {
      const double lower = i == 0 ? 0 : bounds[i - 1];
      const double below = i == 0 ? 0 : static_cast<double>(cumulative[i - 1]);
      const double in_bucket = static_cast<double>(cumulative[i]) - below;
      if (in_bucket <= 0) return lower;
      return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
    }
  }
  return bounds.back();
}

const std::string& StatusPageHtml() {
  static const std::string* const page = new std::string(kPage);
  return *page;
}

http::HttpHandler StatusPageHandler() {
  return [](const http::HttpRequest&) {
    http::HttpResponse response;
    response.content_type = "text/html; charset=utf-8";
    response.body = StatusPageHtml();
    response.headers.push_back({"Cache-Control", "no-store"});
    return response;
  };
}

http::HttpHandler StatusJsonHandler(StatusFn status, metrics::Registry* registry) {
  metrics::Histogram* dispatch = Lookup(registry, kDispatchLatenessName, kDispatchLatenessHelp);
  metrics::Histogram* sent =
      Lookup(registry, delivery::kSendLatenessName, delivery::kSendLatenessHelp);
  metrics::Histogram* ack =
      Lookup(registry, delivery::kAckLatenessName, delivery::kAckLatenessHelp);
  return [status = std::move(status), dispatch, sent, ack](const http::HttpRequest&) {
    http::HttpResponse response;
    response.headers.push_back({"Cache-Control", "no-store"});
    absl::StatusOr<v1::GetStatusResponse> s = status();
    if (!s.ok()) {
      response.status = 503;
      response.body = s.status().ToString();
      return response;
    }
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    std::string status_json;
    if (!google::protobuf::util::MessageToJsonString(*s, &status_json, options).ok()) {
      response.status = 500;
      response.body = "cannot encode the status";
      return response;
    }
    response.content_type = "application/json";
    response.body = absl::StrCat(R"({"status":)", status_json, R"(,"lateness":{"dispatch":)",
                                 dispatch ? LatenessJson(*dispatch) : "{}", R"(,"sent":)",
                                 sent ? LatenessJson(*sent) : "{}", R"(,"ack":)",
                                 ack ? LatenessJson(*ack) : "{}", "}}");
    return response;
  };
}

}  // namespace chime::admin
