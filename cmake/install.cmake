# `cmake --install build [--prefix P]`: the three programs, the default configuration, the
# NATS configuration and the systemd units (docs/deployment.md). Paths follow
# GNUInstallDirs: with --prefix /usr they are /usr/bin, /etc/arqon (CMAKE_INSTALL_SYSCONFDIR
# is /etc for that prefix), /usr/lib/systemd/system.
include(GNUInstallDirs)
set(ARQ_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
set(ARQ_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/arqon)
set(ARQ_DOCDIR ${CMAKE_INSTALL_FULL_DOCDIR})
foreach(unit arqon-shield arqon-brain)
  configure_file(${CMAKE_SOURCE_DIR}/deploy/systemd/${unit}.service.in
                 ${CMAKE_BINARY_DIR}/systemd/${unit}.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${unit}.service
          DESTINATION lib/systemd/system) # not multiarch: where systemd looks
endforeach()
install(TARGETS arqon-shield arqon-brain arq RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/config/arqon.toml DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/arqon)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/nats/nats.conf ${CMAKE_SOURCE_DIR}/deploy/nats/accounts.conf
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/arqon/nats)
install(FILES ${CMAKE_SOURCE_DIR}/docs/deployment.md ${CMAKE_SOURCE_DIR}/docs/operations.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
