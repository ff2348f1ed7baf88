#!/usr/bin/python3
"""Writes the Grafana dashboards of the fraud scoring server as JSON
(dashboards/*.json), the files Grafana imports or provisions.

  /usr/bin/python3 deploy/monitoring/grafana/make_dashboards.py

The dashboards are generated rather than hand-edited so that panel ids and
grid positions stay consistent; edit this file and run it again (the deploy
test fails when a committed dashboard differs from what this script writes).
Every PromQL expression uses only metrics of docs/metrics.md and the
recording rules of deploy/monitoring/prometheus/rules (also checked by the
test).  Format: Grafana dashboard JSON model, schemaVersion 39 (Grafana 10.4
and later; https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/
view-dashboard-json-model/).
"""
import json
import os

SCHEMA_VERSION = 39
DS = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
SCORING = 'endpoint!~"/metrics|/v2/health/.*"'


def datasource_var():
    return {"name": "datasource", "label": "Prometheus", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
            "options": [], "regex": "", "skipUrlSync": False}


def query_var(name, label, query, multi=True):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": name},
            "refresh": 2, "includeAll": multi, "multi": multi,
            "allValue": ".*" if multi else None, "current": {}, "options": [],
            "regex": "", "sort": 1, "hide": 0, "skipUrlSync": False}


def textbox_var(name, label, default):
    return {"name": name, "label": label, "type": "textbox", "query": default,
            "current": {"text": default, "value": default}, "hide": 0,
            "options": [{"selected": True, "text": default, "value": default}],
            "skipUrlSync": False}


class Dashboard:
    """Lays panels out left to right in rows of 24 grid units."""

    def __init__(self, uid, title, description, tags, variables):
        self.uid, self.title, self.description = uid, title, description
        self.tags, self.variables = tags, variables
        self.panels, self.x, self.y, self.row_h, self.next_id = [], 0, 0, 0, 1

    def row(self, title):
        self._newline()
        self.panels.append({"id": self.next_id, "type": "row", "title": title,
                            "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.next_id += 1
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_h
            self.x, self.row_h = 0, 0

    def panel(self, kind, title, description, targets, w=8, h=8, unit=None,
              decimals=None, thresholds=None, options=None, field_extra=None):
        if self.x + w > 24:
            self._newline()
        defaults = {}
        if unit:
            defaults["unit"] = unit
        if decimals is not None:
            defaults["decimals"] = decimals
        if thresholds:
            defaults["thresholds"] = {"mode": "absolute", "steps": [
                {"color": c, "value": v} for v, c in thresholds]}
        if field_extra:
            defaults.update(field_extra)
        p = {"id": self.next_id, "type": kind, "title": title,
             "description": description, "datasource": DS,
             "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
             "fieldConfig": {"defaults": defaults, "overrides": []},
             "options": options or {},
             "targets": [dict(refId=chr(ord("A") + i), datasource=DS,
                              expr=expr, legendFormat=legend,
                              **({"format": "heatmap"} if kind == "heatmap" else {}))
                         for i, (expr, legend) in enumerate(targets)]}
        self.panels.append(p)
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)

    def json(self):
        return {
            "uid": self.uid, "title": self.title,
            "description": self.description, "tags": self.tags,
            "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True,
            "graphTooltip": 1, "timezone": "utc", "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"}, "fiscalYearStartMonth": 0,
            "liveNow": False, "weekStart": "",
            "links": [{"title": "fraud dashboards", "type": "dashboards",
                       "tags": ["fraud"], "asDropdown": True,
                       "includeVars": True, "keepTime": True}],
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard"}]},
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def common_vars(with_model=False):
    v = [datasource_var(),
         query_var("namespace", "Namespace", "label_values(fraud_build_info, namespace)")]
    if with_model:
        v.append(query_var("model", "Model",
                           f"label_values(fraud_model_ready{{{NS}}}, model)"))
    return v


def q(quantile, metric, by, sel):
    return (f"histogram_quantile({quantile}, sum by ({by}le) "
            f"(rate({metric}_bucket{{{sel}}}[$__rate_interval])))")


def system_health():
    d = Dashboard("fraud-system-health", "Fraud / System health",
                  "Traffic, errors, latency, readiness and resources of the "
                  "fraud scoring servers.", ["fraud"], common_vars())
    d.row("Traffic and errors")
    d.panel("timeseries", "Requests by route and status",
            "Answered requests per second, by route pattern and HTTP status.",
            [(f"sum by (endpoint, status) (rate(fraud_http_requests_total{{{NS}}}[$__rate_interval]))",
              "{{endpoint}} {{status}}")], w=12, unit="reqps")
    d.panel("timeseries", "5xx ratio of scoring requests",
            "Share of scoring requests answered 5xx (alert above 1 %).",
            [(f"fraud:scoring_error_ratio:rate5m{{{NS}}}", "{{namespace}}")],
            w=6, unit="percentunit", thresholds=[(None, "green"), (0.01, "red")])
    d.panel("timeseries", "Client errors by reason",
            "4xx/5xx answers by reason (bad_json, bad_shape, bad_type, missing_field, "
            "out_of_range, unknown_model, not_ready, too_large, timeout, internal; "
            "docs/metrics.md lists them all).",
            [(f"sum by (reason) (rate(fraud_request_errors_total{{{NS}}}[$__rate_interval]))",
              "{{reason}}")], w=6, unit="reqps")
    d.row("Latency")
    for quant, title in (("0.5", "p50"), ("0.99", "p99"), ("0.999", "p99.9")):
        d.panel("timeseries", f"Request latency {title}",
                f"{title} of the time from request start to response queued, "
                "scoring routes only (target: p99 5 ms).",
                [(q(quant, "fraud_http_request_duration_seconds", "endpoint, ",
                    f"{NS}, {SCORING}"), "{{endpoint}}")],
                unit="s", thresholds=[(None, "green"), (0.005, "orange"), (0.025, "red")])
    d.panel("timeseries", "Requests in flight",
            "Requests being processed, per pod.",
            [(f"sum by (pod) (fraud_http_requests_in_flight{{{NS}}})", "{{pod}}")],
            w=12, unit="short")
    d.panel("timeseries", "Queue wait p99 (dynamic batching)",
            "p99 time a request waited for its batch.",
            [(q("0.99", "fraud_queue_wait_seconds", "model, ", NS), "{{model}}")],
            w=12, unit="s")
    d.row("Readiness and models")
    d.panel("stat", "Ready pods", "Pods whose /v2/health/ready answers 200.",
            [(f"sum(fraud_ready{{{NS}}})", "ready")], w=6, unit="short",
            thresholds=[(None, "red"), (3, "green")])
    d.panel("timeseries", "Readiness by pod", "fraud_ready per pod (1 ready).",
            [(f"fraud_ready{{{NS}}}", "{{pod}}")], w=6, unit="short")
    d.panel("table", "Loaded model versions",
            "Each loaded, ready model version and how many pods hold it.",
            [(f"count by (model, version) (fraud_model_ready{{{NS}}} == 1)", "")],
            w=6, options={"showHeader": True})
    d.panel("timeseries", "Model loads", "Model version loads by result.",
            [(f"sum by (model, result) (increase(fraud_model_loads_total{{{NS}}}[$__rate_interval]))",
              "{{model}} {{result}}")], w=6, unit="short")
    d.row("Process and state store")
    d.panel("timeseries", "Resident memory", "RSS per pod.",
            [(f"process_resident_memory_bytes{{{NS}, job=\"fraud-server\"}}", "{{pod}}")],
            w=6, unit="bytes")
    d.panel("timeseries", "Open file descriptors", "Open fds per pod.",
            [(f"process_open_fds{{{NS}, job=\"fraud-server\"}}", "{{pod}}")], w=6)
    d.panel("timeseries", "Uptime", "Time since each server process started.",
            [(f"time() - process_start_time_seconds{{{NS}, job=\"fraud-server\"}}", "{{pod}}")],
            w=6, unit="s")
    d.panel("timeseries", "Build", "Running server versions (fraud_build_info).",
            [(f"count by (version) (fraud_build_info{{{NS}}})", "{{version}}")], w=6)
    d.panel("timeseries", "State store entities", "Entities held, by backend.",
            [(f"sum by (backend) (fraud_state_entities{{{NS}}})", "{{backend}}")], w=8)
    d.panel("timeseries", "State evictions", "Evicted entities per second by reason.",
            [(f"sum by (backend, reason) (rate(fraud_state_evictions_total{{{NS}}}[$__rate_interval]))",
              "{{backend}} {{reason}}")], w=8, unit="ops")
    d.panel("timeseries", "State errors and late events",
            "State store failures, and events older than the entity's latest.",
            [(f"sum by (backend) (rate(fraud_state_errors_total{{{NS}}}[$__rate_interval]))",
              "errors {{backend}}"),
             (f"sum by (backend, action) (rate(fraud_state_late_events_total{{{NS}}}[$__rate_interval]))",
              "late {{action}}")], w=8, unit="ops")
    return d


def model_performance():
    d = Dashboard("fraud-model-performance", "Fraud / Model performance",
                  "Score distribution, drift, decisions and engine timings "
                  "per model and version.", ["fraud"], common_vars(True))
    m = f'{NS}, model=~"$model"'
    d.row("Scores and decisions")
    d.panel("heatmap", "Fraud probability distribution",
            "Scored transactions per fraud-probability bucket over time.",
            [(f"sum by (le) (increase(fraud_score_bucket{{{m}}}[$__rate_interval]))", "{{le}}")],
            w=12, h=9, options={"calculate": False, "yAxis": {"unit": "percentunit"},
                               "cellGap": 1, "color": {"mode": "scheme",
                                                       "scheme": "Oranges"}})
    d.panel("timeseries", "Decisions by outcome",
            "Scoring decisions per second by model version and outcome.",
            [(f"sum by (version, decision) (rate(fraud_decisions_total{{{m}}}[$__rate_interval]))",
              "v{{version}} {{decision}}")], w=12, h=9, unit="ops")
    d.panel("timeseries", "Decline ratio (30 min)",
            "Share of decisions that decline, per model (alert on a 3-sigma "
            "move from the last day's mean).",
            [(f"fraud:decline_ratio:rate30m{{{m}}}", "{{model}}")], w=8,
            unit="percentunit")
    d.panel("timeseries", "Review ratio",
            "Share of decisions sent to manual review.",
            [(f"sum by (model) (rate(fraud_decisions_total{{{m}, decision=\"review\"}}[$__rate_interval]))"
              f" / sum by (model) (rate(fraud_decisions_total{{{m}}}[$__rate_interval]))",
              "{{model}}")], w=8, unit="percentunit")
    d.panel("timeseries", "Median and p95 fraud probability",
            "Quantiles of the scored probability.",
            [(q("0.5", "fraud_score", "model, ", m), "p50 {{model}}"),
             (q("0.95", "fraud_score", "model, ", m), "p95 {{model}}")],
            w=8, unit="percentunit")
    d.row("Drift")
    d.panel("timeseries", "Score PSI",
            "Population stability index of recent scores against the training "
            "reference (alert above 0.25).",
            [(f"max by (model) (fraud_score_psi{{{m}}})", "{{model}}")], w=12,
            decimals=3, thresholds=[(None, "green"), (0.1, "orange"), (0.25, "red")])
    d.panel("bargauge", "Feature PSI, top 10",
            "Features whose recent values moved most from the training reference.",
            [(f"topk(10, max by (feature) (fraud_feature_psi{{{m}}}))", "{{feature}}")],
            w=12, decimals=3, thresholds=[(None, "green"), (0.1, "orange"), (0.25, "red")],
            options={"orientation": "horizontal", "displayMode": "gradient",
                     "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})
    d.row("Engine")
    d.panel("timeseries", "Inference time p99 per batch",
            "Time inside the forest engine per executed batch.",
            [(q("0.99", "fraud_inference_duration_seconds", "model, ", m), "{{model}}")],
            w=8, unit="s")
    d.panel("timeseries", "Featurize time p99",
            "Online feature computation and state update per transaction.",
            [(q("0.99", "fraud_featurize_duration_seconds", "model, ", m), "{{model}}")],
            w=8, unit="s")
    d.panel("timeseries", "Mean batch size",
            "Rows per executed batch (dynamic batching).",
            [(f"sum by (model) (rate(fraud_batch_size_sum{{{m}}}[$__rate_interval]))"
              f" / sum by (model) (rate(fraud_batch_size_count{{{m}}}[$__rate_interval]))",
              "{{model}}")], w=8, decimals=1)
    return d


def business():
    d = Dashboard("fraud-business", "Fraud / Business",
                  "Fraud caught and money saved, as the scoring decisions "
                  "record them.", ["fraud"], common_vars(True))
    m = f'{NS}, model=~"$model"'
    d.row("Over the selected time range")
    d.panel("stat", "Transactions scored", "Decisions taken in the time range.",
            [(f"sum(increase(fraud_decisions_total{{{m}}}[$__range]))", "scored")],
            w=6, unit="short", decimals=0)
    d.panel("stat", "Fraud caught (declined)",
            "Transactions declined as fraud in the time range.",
            [(f"sum(increase(fraud_decisions_total{{{m}, decision=\"decline\"}}[$__range]))",
              "declined")], w=6, unit="short", decimals=0)
    d.panel("stat", "Money saved (declined amount)",
            "Sum of the amounts of declined transactions: the loss prevented "
            "when the declines are right (an upper bound; confirmed fraud "
            "comes from chargebacks, outside the server).",
            [(f"sum(increase(fraud_scored_amount_total{{{m}, decision=\"decline\"}}[$__range]))",
              "declined amount")], w=6, unit="currencyUSD", decimals=0)
    d.panel("stat", "Sent to review", "Transactions routed to manual review.",
            [(f"sum(increase(fraud_decisions_total{{{m}, decision=\"review\"}}[$__range]))",
              "review")], w=6, unit="short", decimals=0)
    d.row("Trends")
    d.panel("timeseries", "Declined amount per hour",
            "Money stopped per hour by model.",
            [(f"sum by (model) (increase(fraud_scored_amount_total{{{m}, decision=\"decline\"}}[1h]))",
              "{{model}}")], w=12, unit="currencyUSD")
    d.panel("timeseries", "Amount by decision",
            "Transaction value per second by decision.",
            [(f"sum by (decision) (rate(fraud_scored_amount_total{{{m}}}[$__rate_interval]))",
              "{{decision}}")], w=12, unit="currencyUSD")
    d.panel("timeseries", "Fraud rate (decline ratio, 30 min)",
            "Share of transactions declined.",
            [(f"fraud:decline_ratio:rate30m{{{m}}}", "{{model}}")], w=12,
            unit="percentunit")
    d.panel("piechart", "Decisions by outcome",
            "Split of decisions in the time range.",
            [(f"sum by (decision) (increase(fraud_decisions_total{{{m}}}[$__range]))",
              "{{decision}}")], w=12,
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                       "values": False},
                     "pieType": "donut", "legend": {"displayMode": "table",
                                                    "placement": "right",
                                                    "showLegend": True}})
    return d


def capacity():
    v = common_vars() + [textbox_var("pod_hourly_cost", "Cost per pod-hour (USD)", "0.045")]
    d = Dashboard("fraud-capacity-cost", "Fraud / Capacity and cost",
                  "Replicas, throughput per replica, headroom and the cost of "
                  "scoring.", ["fraud"], v)
    d.row("Capacity")
    d.panel("stat", "Server pods", "Pods exporting fraud_build_info.",
            [(f"count(fraud_build_info{{{NS}}})", "pods")], w=6,
            thresholds=[(None, "red"), (3, "green"), (18, "orange")])
    d.panel("timeseries", "Scoring requests per pod",
            "Throughput per replica: the figure the autoscaler's CPU target "
            "is sized for (docs/deploy.md).",
            [(f"sum(fraud:scoring_requests:rate5m{{{NS}}}) / count(fraud_build_info{{{NS}}})",
              "per pod")], w=9, unit="reqps")
    d.panel("timeseries", "Pods over time", "Replica count (min 3, max 20).",
            [(f"count(fraud_build_info{{{NS}}})", "pods")], w=9)
    d.panel("timeseries", "In flight per pod",
            "Mean concurrent requests per pod; rising with flat throughput "
            "means saturation.",
            [(f"avg(fraud_http_requests_in_flight{{{NS}}})", "mean"),
             (f"max(fraud_http_requests_in_flight{{{NS}}})", "max")], w=8)
    d.panel("timeseries", "Memory per pod", "RSS per pod against its 1 GiB limit.",
            [(f"max(process_resident_memory_bytes{{{NS}, job=\"fraud-server\"}})", "max"),
             (f"avg(process_resident_memory_bytes{{{NS}, job=\"fraud-server\"}})", "mean")],
            w=8, unit="bytes", thresholds=[(None, "green"), (858993459, "orange")])
    d.panel("timeseries", "State entities per pod",
            "Entities of the in-process state store per pod (memory sizing).",
            [(f"avg(fraud_state_entities{{{NS}, backend=\"memory\"}})", "mean")], w=8)
    d.row("Cost")
    d.panel("stat", "Serving cost per hour",
            "Pods times the cost of a pod-hour (set in the variable above: "
            "the node price divided by the pods a node holds).",
            [(f"count(fraud_build_info{{{NS}}}) * $pod_hourly_cost", "USD/h")],
            w=8, unit="currencyUSD", decimals=2)
    d.panel("stat", "Cost per million scored transactions",
            "Hourly serving cost over the transactions scored in an hour.",
            [(f"count(fraud_build_info{{{NS}}}) * $pod_hourly_cost / "
              f"(sum(rate(fraud_decisions_total{{{NS}}}[1h])) * 3600 / 1e6)",
              "USD per 1M")], w=8, unit="currencyUSD", decimals=3)
    d.panel("stat", "Money saved per serving dollar",
            "Declined amount per hour over the serving cost per hour.",
            [(f"sum(rate(fraud_scored_amount_total{{{NS}, decision=\"decline\"}}[1h])) * 3600 / "
              f"(count(fraud_build_info{{{NS}}}) * $pod_hourly_cost)", "ratio")],
            w=8, decimals=0)
    return d


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    os.makedirs(out, exist_ok=True)
    for d in (system_health(), model_performance(), business(), capacity()):
        with open(os.path.join(out, d.uid + ".json"), "w") as f:
            json.dump(d.json(), f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
