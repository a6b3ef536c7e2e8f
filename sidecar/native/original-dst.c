// original_dst: reads where a connection redirected by iptables (nat REDIRECT) was headed, via SO_ORIGINAL_DST.
#include <node_api.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

// From <linux/netfilter_ipv4.h>; defined here because that header clashes with <netinet/in.h> on some libcs.
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT"; // the connection was not redirected (no conntrack NAT entry)
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EINVAL: return "EINVAL";
    default: return "EGETSOCKOPT";
  }
}

// originalDst(fd: number): { address: string; port: number }; throws an Error with a code on failure.
static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct sockaddr_in dst;
  socklen_t len = sizeof(dst);
  memset(&dst, 0, sizeof(dst));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &len) != 0) {
    int e = errno;
    char message[160];
    snprintf(message, sizeof(message), "getsockopt(SO_ORIGINAL_DST) on fd %d: %s", fd, strerror(e));
    napi_throw_error(env, errno_code(e), message);
    return NULL;
  }
  char text[INET_ADDRSTRLEN];
  if (inet_ntop(AF_INET, &dst.sin_addr, text, sizeof(text)) == NULL) {
    napi_throw_error(env, "EINVAL", "originalDst: inet_ntop failed");
    return NULL;
  }
  napi_value result, address, port;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_uint32(env, ntohs(dst.sin_port), &port);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}
