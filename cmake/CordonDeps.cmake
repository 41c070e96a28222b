# Every dependency comes from a Debian package and is found with pkg-config.
# scripts/install-deps.sh installs them.
find_package(PkgConfig REQUIRED)

pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)
pkg_check_modules(LIBCAP REQUIRED IMPORTED_TARGET libcap)
pkg_check_modules(LIBNL REQUIRED IMPORTED_TARGET libnl-3.0 libnl-route-3.0)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
# Lua is linked statically from the same Debian package (liblua5.4-dev ships
# liblua5.4.a, built position-independent): inside the shared library every
# call between the VM's own functions goes through the PLT and lua_* calls
# from the runtime cross it too; /usr/bin/lua5.4 is linked the same way.
# Measured with bench/udf: see docs/udf.md "Performance".
find_library(LUA_STATIC_LIBRARY NAMES liblua5.4.a HINTS ${LUA_LIBRARY_DIRS} REQUIRED)
add_library(cordon_lua INTERFACE)
target_include_directories(cordon_lua INTERFACE ${LUA_INCLUDE_DIRS})
target_link_libraries(cordon_lua INTERFACE ${LUA_STATIC_LIBRARY} m ${CMAKE_DL_LIBS})
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBEVENT REQUIRED IMPORTED_TARGET libevent>=2.1 libevent_openssl>=2.1)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(NFTABLES REQUIRED IMPORTED_TARGET libnftables)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
