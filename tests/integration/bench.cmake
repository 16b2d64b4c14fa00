# `arq bench` driven against a real nats-server and arqon-shield (a smoke test of the tool;
# the benchmark itself is bench/shield.sh, outside `make test`).
if(TARGET arqon-shield)
  arq_python_test(integration_bench test_bench 180)
endif()
