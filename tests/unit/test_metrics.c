/* lx_metrics (src/common/metrics.h): the Prometheus text exposition and the /metrics and
 * /healthz endpoint shared by li707-lea and li707-csp. The text is checked byte for byte,
 * and by promtool (the Prometheus project's own checker) when it is installed. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "testutil.h"

static char *render(struct lx_metrics *r)
{
	struct lx_dynbuf b;
	lx_dynbuf_init(&b, 1 << 20);
	assert_int_equal(lx_metrics_render(r, &b), 0);
	char *s = lx_dynbuf_take(&b, NULL);
	return s ? s : tu_xstrdup("");
}

static void metrics_exposition_text(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	assert_non_null(r);
	struct lx_metric_family *req = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_requests_total",
							 "HTTP requests by endpoint and status.",
							 "endpoint,status", NULL, 0);
	struct lx_metric_family *gen = lx_metrics_family(r, LX_METRIC_GAUGE, "li707_config_generation",
							 "Configuration generation.", NULL, NULL, 0);
	static const double b[] = {0.001, 0.01, 0.1};
	struct lx_metric_family *lat = lx_metrics_family(r, LX_METRIC_HISTOGRAM,
							 "li707_commit_seconds", "Commit latency.",
							 NULL, b, 3);
	struct lx_metric_family *unused = lx_metrics_family(r, LX_METRIC_COUNTER, "li707_unused_total",
							    "Never touched.", NULL, NULL, 0);
	assert_non_null(req);
	assert_non_null(gen);
	assert_non_null(lat);
	assert_non_null(unused);
	struct lx_metric *ok = lx_metric_get(req, "hi1", "200");
	assert_ptr_equal(ok, lx_metric_get(req, "hi1", "200")); /* same labels, same series */
	lx_metric_inc(ok);
	lx_metric_add(ok, 41);
	lx_metric_inc(lx_metric_get(req, "binary", "413"));
	lx_metric_gauge_set(lx_metric_get(gen), 3);
	lx_metric_gauge_add(lx_metric_get(gen), -1);
	struct lx_metric *h = lx_metric_get(lat);
	lx_metric_observe(h, 0.0005);
	lx_metric_observe(h, 0.001); /* le is inclusive */
	lx_metric_observe(h, 0.05);
	lx_metric_observe(h, 2.5);
	assert_true(lx_metric_value(ok) == 42.0);
	char *s = render(r);
	assert_string_equal(s,
			    "# HELP li707_requests_total HTTP requests by endpoint and status.\n"
			    "# TYPE li707_requests_total counter\n"
			    "li707_requests_total{endpoint=\"hi1\",status=\"200\"} 42\n"
			    "li707_requests_total{endpoint=\"binary\",status=\"413\"} 1\n"
			    "# HELP li707_config_generation Configuration generation.\n"
			    "# TYPE li707_config_generation gauge\n"
			    "li707_config_generation 2\n"
			    "# HELP li707_commit_seconds Commit latency.\n"
			    "# TYPE li707_commit_seconds histogram\n"
			    "li707_commit_seconds_bucket{le=\"0.001\"} 2\n"
			    "li707_commit_seconds_bucket{le=\"0.01\"} 2\n"
			    "li707_commit_seconds_bucket{le=\"0.1\"} 3\n"
			    "li707_commit_seconds_bucket{le=\"+Inf\"} 4\n"
			    "li707_commit_seconds_sum 2.5515\n"
			    "li707_commit_seconds_count 4\n");
	free(s);
	lx_metrics_free(r);
}

static void metrics_label_values_escaped(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	struct lx_metric_family *f = lx_metrics_family(r, LX_METRIC_COUNTER, "x_total",
						       "a \\ and\na newline", "reason", NULL, 0);
	lx_metric_inc(lx_metric_get(f, "say \"hi\"\\\n"));
	char *s = render(r);
	assert_string_equal(s, "# HELP x_total a \\\\ and\\na newline\n"
			       "# TYPE x_total counter\n"
			       "x_total{reason=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
	free(s);
	lx_metrics_free(r);
}

static void metrics_bad_families_refused(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	static const double down[] = {1, 0.5};
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "9lives_total", "", NULL, NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "has-dash", "", NULL, NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "", "", NULL, NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "a_total", "", "bad-label", NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "a_total", "", "__x", NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_HISTOGRAM, "h", "", "le", down, 1));
	assert_null(lx_metrics_family(r, LX_METRIC_HISTOGRAM, "h", "", NULL, down, 2));
	assert_null(lx_metrics_family(r, LX_METRIC_HISTOGRAM, "h", "", NULL, NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_COUNTER, "a_total", "", "a,b,c,d,e", NULL, 0));
	assert_non_null(lx_metrics_family(r, LX_METRIC_COUNTER, "a_total", "", "a,b", NULL, 0));
	assert_null(lx_metrics_family(r, LX_METRIC_GAUGE, "a_total", "", NULL, NULL, 0)); /* twice */
	lx_metrics_free(r);
}

/* No label set can grow a family past LX_METRICS_MAX_SERIES; updates of NULL do nothing. */
static void metrics_series_capped(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	struct lx_metric_family *f = lx_metrics_family(r, LX_METRIC_COUNTER, "c_total", "", "k",
						       NULL, 0);
	char v[16];
	for (int i = 0; i < LX_METRICS_MAX_SERIES; i++) {
		snprintf(v, sizeof v, "%d", i);
		assert_non_null(lx_metric_get(f, v));
	}
	assert_null(lx_metric_get(f, "one-more"));
	assert_non_null(lx_metric_get(f, "7")); /* existing ones still found */
	lx_metric_inc(NULL);
	lx_metric_observe(NULL, 1);
	lx_metric_gauge_set(NULL, 1);
	assert_true(lx_metric_value(NULL) == 0.0);
	lx_metrics_free(r);
}

struct hammer {
	struct lx_metric *c, *h;
};

static void *hammer_run(void *arg)
{
	struct hammer *hm = arg;
	for (int i = 0; i < 100000; i++) {
		lx_metric_inc(hm->c);
		lx_metric_observe(hm->h, 1.0);
	}
	return NULL;
}

static void metrics_concurrent_updates_exact(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	static const double b[] = {0.5};
	struct hammer hm = {
		lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER, "c_total", "", NULL, NULL, 0)),
		lx_metric_get(lx_metrics_family(r, LX_METRIC_HISTOGRAM, "h", "", NULL, b, 1)),
	};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &hm), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(lx_metric_value(hm.c) == 400000.0);
	char *s = render(r);
	assert_non_null(strstr(s, "h_sum 400000\nh_count 400000\n"));
	free(s);
	lx_metrics_free(r);
}

static void collect_sets_gauge(struct lx_metrics *r, void *arg)
{
	(void)r;
	int *calls = arg;
	(*calls)++;
}

struct fetched {
	long status;
	char body[4096];
	size_t len;
	char ctype[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct fetched *f = arg;
	size_t k = sz * n;
	if (f->len + k < sizeof f->body) {
		memcpy(f->body + f->len, p, k);
		f->len += k;
		f->body[f->len] = '\0';
	}
	return k;
}

static void get(int port, const char *path, const char *method, struct fetched *f)
{
	memset(f, 0, sizeof *f);
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	if (ct)
		snprintf(f->ctype, sizeof f->ctype, "%s", ct);
	curl_easy_cleanup(c);
}

static bool healthy;

static bool health(void *arg, char *why, size_t whylen)
{
	(void)arg;
	if (!healthy)
		snprintf(why, whylen, "store not writable");
	return healthy;
}

static void metrics_endpoint_serves_metrics_and_health(void **state)
{
	(void)state;
	struct lx_metrics *r = lx_metrics_new();
	int calls = 0;
	lx_metrics_on_collect(r, collect_sets_gauge, &calls);
	lx_metric_add(lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER, "li707_x_total", "X.",
						      NULL, NULL, 0)),
		      5);
	struct lx_metrics_server *s = NULL;
	int port = 0;
	char err[256] = "";
	assert_int_equal(lx_metrics_server_start("127.0.0.1:0", r, health, NULL, &s, &port, err,
						 sizeof err),
			 0);
	assert_true(port > 0);
	struct fetched f;
	get(port, "/metrics", NULL, &f);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(f.body, "\nli707_x_total 5\n"));
	assert_int_equal(calls, 1);
	healthy = true;
	get(port, "/healthz", NULL, &f);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.body, "ok\n");
	healthy = false;
	get(port, "/healthz", NULL, &f);
	assert_int_equal(f.status, 503);
	assert_string_equal(f.body, "unavailable: store not writable\n");
	get(port, "/metrics/../etc", NULL, &f);
	assert_int_equal(f.status, 404);
	get(port, "/metrics", "POST", &f);
	assert_int_equal(f.status, 405);
	lx_metrics_server_stop(s);
	/* a taken port is a clear error */
	assert_int_equal(lx_metrics_server_start("127.0.0.1:0", r, NULL, NULL, &s, &port, err,
						 sizeof err),
			 0);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	struct lx_metrics_server *s2 = NULL;
	assert_true(lx_metrics_server_start(addr, r, NULL, NULL, &s2, NULL, err, sizeof err) < 0);
	assert_non_null(strstr(err, "Address already in use"));
	assert_true(lx_metrics_server_start("no-port", r, NULL, NULL, &s2, NULL, err, sizeof err) < 0);
	lx_metrics_server_stop(s);
	lx_metrics_free(r);
}

/* The Prometheus project's own checker accepts what we render (skipped without promtool). */
static void metrics_promtool_accepts(void **state)
{
	(void)state;
	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		print_message("SKIP: promtool absent (Debian package prometheus)\n");
		skip();
	}
	struct lx_metrics *r = lx_metrics_new();
	static const double b[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1};
	lx_metric_inc(lx_metric_get(lx_metrics_family(r, LX_METRIC_COUNTER, "li707_requests_total",
						      "Requests.", "endpoint,status", NULL, 0),
				    "hi1", "200"));
	lx_metric_gauge_set(lx_metric_get(lx_metrics_family(r, LX_METRIC_GAUGE, "li707_queue_depth",
							    "Depth.", "lea", NULL, 0),
					  "lea1"),
			    7);
	lx_metric_observe(lx_metric_get(lx_metrics_family(r, LX_METRIC_HISTOGRAM,
							  "li707_store_commit_seconds", "Commit.",
							  NULL, b, 7)),
			  0.0031);
	char *s = render(r);
	char path[] = "/tmp/li707-metrics-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
	int rc = system(cmd);
	unlink(path);
	free(s);
	lx_metrics_free(r);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(metrics_exposition_text),
		cmocka_unit_test(metrics_label_values_escaped),
		cmocka_unit_test(metrics_bad_families_refused),
		cmocka_unit_test(metrics_series_capped),
		cmocka_unit_test(metrics_concurrent_updates_exact),
		cmocka_unit_test(metrics_endpoint_serves_metrics_and_health),
		cmocka_unit_test(metrics_promtool_accepts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
