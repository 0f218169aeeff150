// SPDX-License-Identifier: GPL-2.0
/* query-memdev validation and the QMP client against a scripted server. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmp.h"

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static void test_memdev_ok(void **state)
{
	json_t *j =
		load("[{\"id\":\"m0\",\"size\":268435456,\"merge\":true,\"dump\":true,"
		     "\"prealloc\":false,\"share\":false,\"host-nodes\":[1,3],\"policy\":\"bind\"},"
		     "{\"size\":1024,\"merge\":false,\"dump\":true,\"prealloc\":true,"
		     "\"share\":true,\"host-nodes\":[],\"policy\":\"default\"}]");
	struct mh_memdev *m = NULL;
	struct xpv_error *err = NULL;
	int n = 0;

	(void)state;
	assert_int_equal(mh_memdev_parse(j, &m, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].id, "m0");
	assert_int_equal(m[0].size, 268435456);
	assert_true(m[0].merge);
	assert_int_equal(m[0].host_nodes, (1 << 1) | (1 << 3));
	assert_int_equal(mh_memdev_home(&m[0]), 1);
	assert_string_equal(m[1].id, "");
	assert_true(m[1].share);
	assert_int_equal(mh_memdev_home(&m[1]), -1);
	free(m);
	json_decref(j);
}

static void test_memdev_bad(void **state)
{
	static const char *const bad[] = {
		"{}",
		"[1]",
		"[{\"size\":0,\"merge\":false,\"share\":false,\"prealloc\":false,\"host-nodes\":[],"
		"\"policy\":\"bind\"}]",
		"[{\"size\":1,\"merge\":false,\"share\":false,\"prealloc\":false,\"host-nodes\":[],"
		"\"policy\":\"sideways\"}]",
		"[{\"size\":1,\"merge\":false,\"share\":false,\"prealloc\":false,"
		"\"host-nodes\":[64],\"policy\":\"bind\"}]",
		"[{\"size\":1,\"merge\":false,\"share\":false,\"prealloc\":false,"
		"\"host-nodes\":[-1],\"policy\":\"bind\"}]",
		"[{\"size\":1,\"merge\":\"yes\",\"share\":false,\"prealloc\":false,"
		"\"host-nodes\":[],\"policy\":\"bind\"}]",
		"[{\"id\":5,\"size\":1,\"merge\":false,\"share\":false,\"prealloc\":false,"
		"\"host-nodes\":[],\"policy\":\"bind\"}]",
		"[{\"size\":1,\"merge\":false,\"share\":false,\"prealloc\":false,"
		"\"policy\":\"bind\"}]",
		NULL,
	};
	(void)state;
	for (int i = 0; bad[i]; i++) {
		json_t *j = load(bad[i]);
		struct mh_memdev *m = NULL;
		struct xpv_error *err = NULL;
		int n = 0;

		if (mh_memdev_parse(j, &m, &n, &err) != -EPROTO)
			fail_msg("accepted bad query-memdev answer %d: %s", i, bad[i]);
		assert_non_null(err);
		assert_non_null(strstr(err->msg, "query-memdev"));
		xpv_error_free(&err);
		json_decref(j);
	}
}

struct server {
	int lfd;
	const char *const *script; /* pairs: expected command substring, reply (NULL: close) */
};

static void *serve(void *arg)
{
	struct server *s = arg;
	char buf[4096];
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	dprintf(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	for (int i = 0; s->script[i]; i += 2) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		if (n <= 0)
			break;
		buf[n] = '\0';
		if (!strstr(buf, s->script[i]))
			dprintf(fd, "{\"error\":{\"class\":\"x\",\"desc\":\"unexpected %s\"}}\r\n",
				buf);
		if (!s->script[i + 1])
			break;
		/* an event first: the client must skip it */
		dprintf(fd, "{\"event\":\"STOP\",\"timestamp\":{}}\r\n%s\r\n", s->script[i + 1]);
	}
	close(fd);
	return NULL;
}

static void test_client(void **state)
{
	static const char *const script[] = {
		"qmp_capabilities",
		"{\"return\":{},\"id\":1}",
		"query-memdev",
		"{\"return\":[{\"id\":\"m0\",\"size\":4096,\"merge\":false,\"dump\":true,"
		"\"prealloc\":false,\"share\":false,\"host-nodes\":[0],\"policy\":\"bind\"}],"
		"\"id\":2}",
		"qom-get",
		"{\"error\":{\"class\":\"GenericError\",\"desc\":\"no such path\"},\"id\":3}",
		"query-balloon",
		NULL,
		NULL,
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct server s = {.script = script};
	struct xpv_error *err = NULL;
	struct mh_memdev *m = NULL;
	struct mh_qmp *q = NULL;
	char dir[] = "/tmp/memhome-qmp-XXXXXX";
	json_t *ret = NULL;
	pthread_t th;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", dir);
	s.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s.lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, serve, &s), 0);

	assert_int_equal(mh_qmp_open(sa.sun_path, 5000, &q, &err), 0);
	assert_int_equal(mh_qmp_execute(q, "query-memdev", NULL, &ret, &err), 0);
	assert_int_equal(mh_memdev_parse(ret, &m, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(m[0].id, "m0");
	free(m);
	json_decref(ret);
	/* a QMP error becomes an error naming the command and QEMU's text */
	assert_int_equal(mh_qmp_execute(q, "qom-get", NULL, &ret, &err), -EREMOTEIO);
	assert_non_null(strstr(err->msg, "no such path"));
	xpv_error_free(&err);
	/* the peer hangs up */
	assert_int_equal(mh_qmp_execute(q, "query-balloon", NULL, &ret, &err), -ECONNRESET);
	assert_non_null(strstr(err->msg, "query-balloon"));
	xpv_error_free(&err);
	mh_qmp_close(q);
	pthread_join(th, NULL);
	close(s.lfd);
	unlink(sa.sun_path);
	rmdir(dir);

	/* nobody listening */
	assert_true(mh_qmp_open(sa.sun_path, 100, &q, &err) < 0);
	assert_non_null(strstr(err->msg, sa.sun_path));
	xpv_error_free(&err);
}

/* A monitor that greets a space at a time, every 20 ms, for 3 s: each byte
 * would have restarted a per-read timeout; the open's deadline holds. */
static void *trickle(void *arg)
{
	int fd = accept(*(int *)arg, NULL, NULL);

	if (fd < 0)
		return NULL;
	for (int i = 0; i < 150; i++) {
		struct timespec ts = {0, 20 * 1000000};

		if (send(fd, " ", 1, MSG_NOSIGNAL) != 1)
			break;
		nanosleep(&ts, NULL);
	}
	close(fd);
	return NULL;
}

static void test_deadline(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct xpv_error *err = NULL;
	struct mh_qmp *q = NULL;
	char dir[] = "/tmp/memhome-qmp-XXXXXX";
	struct timespec t0, t1;
	pthread_t th;
	double secs;
	int lfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qmp.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, trickle, &lfd), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(mh_qmp_open(sa.sun_path, 200, &q, &err), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* 200 ms budget; without the deadline this takes the full 3 s */
	assert_true(secs < 1.5);
	assert_non_null(strstr(err->msg, "200 ms"));
	xpv_error_free(&err);
	pthread_join(th, NULL);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memdev_ok),
		cmocka_unit_test(test_memdev_bad),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests_name("qmp", tests, NULL, NULL);
}
