/*
 * commands.h — the subcommands of `arq`. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit status.
 */
#ifndef ARQ_CLI_COMMANDS_H
#define ARQ_CLI_COMMANDS_H

int arq_cmd_version(int argc, char **argv);
int arq_cmd_toml_decode(int argc, char **argv);
int arq_cmd_auth(int argc, char **argv);
int arq_cmd_wasm(int argc, char **argv);
int arq_cmd_envelope(int argc, char **argv);
int arq_cmd_schema(int argc, char **argv);
int arq_cmd_bench(int argc, char **argv);
int arq_cmd_policy(int argc, char **argv);
int arq_cmd_status(int argc, char **argv);
int arq_cmd_dev(int argc, char **argv);
int arq_cmd_pub(int argc, char **argv);
int arq_cmd_sub(int argc, char **argv);
int arq_cmd_api(int argc, char **argv);
/** arq schema push|ls|rm (cmd_schema_kv.c), reached through arq_cmd_schema. */
int arq_schema_kv(int argc, char **argv);

#endif
