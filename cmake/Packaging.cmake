# A Debian package with CPack: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr. Maintainer scripts (packaging/debian/): postinst creates the
# `automatelinux` system group and enables and starts the service as Debian does for its
# daemons; prerm stops it on removal; postrm purge deletes /var/lib/automatelinux. Dependencies
# are computed by dpkg-shlibdeps (dpkg-dev) from the binaries, plus what the scripts and
# commands call. `lintian` on the result is clean (tests/packaging/deb.bats).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME automatelinux)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run commands on your own machines over mutual TLS")
set(CPACK_PACKAGE_DESCRIPTION
    "A daemon on each of a person's machines (desktop, laptop, VPS) forms a\n\
small peer network over mutually authenticated TLS 1.3, and the thin\n\
command-line client d runs commands on any of them from any other,\n\
streaming the output live and exiting with the remote status.\n\
.\n\
Commands are plugins built against a public SDK (included, with its CMake\n\
package). Durable jobs survive the client, the daemons and restarts.")
set(CPACK_PACKAGE_CONTACT "automatelinux maintainers <maintainers@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Not found by dpkg-shlibdeps: git (gitOnPeer), adduser (postinst's addgroup),
# init-system-helpers (deb-systemd-helper, deb-systemd-invoke).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "git, adduser, init-system-helpers (>= 1.52)")
# d-ssh -s sftp runs the host's sftp-server (scp, sftp, sshfs over d-ssh).
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssh-sftp-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
