# A Debian package with CPack: `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr. No maintainer scripts: installing starts and changes nothing
# beyond the files (enable the service yourself: systemctl enable --now automatelinux-daemon).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME automatelinux)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Run commands on your own machines over mutually authenticated TLS")
set(CPACK_PACKAGE_CONTACT "automatelinux maintainers <maintainers@example.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "git")
include(CPack)
