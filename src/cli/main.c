/* arq — the ArqonBus command-line tool. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} arq_command_t;

static const arq_command_t commands[] = {
    {"version", arq_cmd_version, "print the version"},
    {"toml-decode", arq_cmd_toml_decode, "TOML on stdin -> toml-test tagged JSON on stdout"},
    {"auth", arq_cmd_auth, "auth gen --tenant T --sub U [--role R] [--ttl S] [--secret S | --config PATH]"},
    {"wasm", arq_cmd_wasm, "wasm run FILE.wasm ACTION... | wasm spectest FILE.json"},
    {"envelope", arq_cmd_envelope, "envelope json2pb | pb2json: convert an Envelope, stdin -> stdout"},
    {"schema", arq_cmd_schema, "schema check FILE.desc[.gz] MESSAGE < data: validate a protobuf message"},
    {"dev", arq_cmd_dev, "dev up | down: the local stack of make run"},
    {"status", arq_cmd_status, "status [--config PATH] [--timeout-ms N]: health of the Shield, NATS, Valkey and the Brain"},
    {"policy", arq_cmd_policy, "policy push|ls|rm: tenant Wasm policies in NATS KV"},
    {"pub", arq_cmd_pub, "pub --url ws://H:P/ws --tenant T --room R [--count N] DATA: publish events"},
    {"sub", arq_cmd_sub, "sub --url ws://H:P/ws --tenant T --room R [--count N]: print a room's events"},
    {"api", arq_cmd_api, "api publish|broadcast|send_user|disconnect|presence|history: the server API"},
    {"bench", arq_cmd_bench, "bench --url ws://H:P/ws --mode ack|roundtrip|fanout|idle: load a Shield"},
};

static void usage(FILE *out) {
  fprintf(out, "usage: arq <command> [args...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version"))
    return arq_cmd_version(argc - 1, argv + 1);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "arq: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
