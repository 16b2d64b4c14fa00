# Deterministic mirroring, compared with an independent XXH64 (Debian's python3-xxhash).
if(TARGET arqon-shield)
  arq_python_test(integration_mirroring test_mirroring 300)
endif()
