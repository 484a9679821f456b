/*
 * getsockopt(SO_ORIGINAL_DST) for Node.js: the address a client dialed before an iptables or
 * nftables REDIRECT rewrote it. Node has no getsockopt; this is the one call Portcullis needs.
 *
 *   originalDst(fd, family) -> Buffer holding the raw struct sockaddr_in (family 4) or
 *   struct sockaddr_in6 (family 6); throws an Error with .code = errno name otherwise.
 *
 * The sockaddr is parsed in TypeScript (src/net/original-destination.ts), where it is tested.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif

static const char *errno_name(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    case EINVAL: return "EINVAL";
    case ENOTCONN: return "ENOTCONN";
    case EFAULT: return "EFAULT";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, int err) {
  char message[128];
  snprintf(message, sizeof message, "getsockopt(SO_ORIGINAL_DST) failed: %s (errno %d)", strerror(err), err);
  napi_throw_error(env, errno_name(err), message);
  return NULL;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  int32_t family = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2
      || napi_get_value_int32(env, argv[0], &fd) != napi_ok
      || napi_get_value_int32(env, argv[1], &family) != napi_ok
      || fd < 0 || (family != 4 && family != 6)) {
    napi_throw_type_error(env, "EINVAL", "originalDst(fd, family): fd must be a descriptor, family 4 or 6");
    return NULL;
  }
  struct sockaddr_storage address;
  socklen_t length = family == 4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  memset(&address, 0, sizeof address);
  int rc = family == 4
    ? getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &address, &length)
    : getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &address, &length);
  if (rc != 0) return throw_errno(env, errno);
  napi_value result;
  void *data = NULL;
  if (napi_create_buffer_copy(env, length, &address, &data, &result) != napi_ok) return NULL;
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "originalDst", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
