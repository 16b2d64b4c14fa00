/*
 * http_response.c — status reasons and the response writer. Responses are small (errors,
 * health checks, metrics, the upgrade), so they are built whole in one buffer and written
 * by the caller with one send.
 */
#include "net/http.h"

const char *arq_http_status_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  }
  return "Unknown";
}

void arq_http_write_response(arq_buf_t *out, int status, const char *content_type, const void *body,
                             size_t body_len, bool keep_alive, const char *extra_headers) {
  /* RFC 9110 8.6 and 15.4.5: these never carry content, nor a Content-Length. */
  bool bodiless = (status >= 100 && status < 200) || status == 204 || status == 304;
  arq_buf_printf(out, "HTTP/1.1 %d %s\r\n", status, arq_http_status_reason(status));
  if (!bodiless) {
    if (content_type || body_len)
      arq_buf_printf(out, "Content-Type: %s\r\n",
                     content_type ? content_type : "application/octet-stream");
    arq_buf_printf(out, "Content-Length: %zu\r\n", body_len);
  }
  if (status != 101)
    arq_buf_puts(out, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  if (extra_headers)
    arq_buf_puts(out, extra_headers);
  arq_buf_puts(out, "\r\n");
  if (!bodiless && body_len)
    arq_buf_append(out, body, body_len);
}
