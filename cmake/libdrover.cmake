# libdrover: the producer (producer/) as an installed C client library, one
# public header (include/drover/drover.h), shared and static, with a
# pkg-config file.  Its objects are built again here, position-independent
# and with only drover.h's functions visible, from the modules the
# producer needs; `drover submit` links the same code from drover_producer.
include(GNUInstallDirs)

set(LIBDROVER_SOURCES
    producer/drover.c producer/producer.c producer/connection.c producer/job_fields.c
    producer/per_tuple.c producer/submit_build.c producer/watch.c producer/window.c
    proto/header.c proto/msg.c proto/packed.c proto/runs.c proto/schema.c
    proto/validate.c proto/wire.c
    common/curve.c common/grow.c common/keys.c common/log.c common/json_read.c common/utf8.c)
list(TRANSFORM LIBDROVER_SOURCES PREPEND ${CMAKE_SOURCE_DIR}/)

add_library(libdrover_objects OBJECT ${LIBDROVER_SOURCES})
set_target_properties(libdrover_objects PROPERTIES
  POSITION_INDEPENDENT_CODE ON C_VISIBILITY_PRESET hidden)
target_include_directories(libdrover_objects PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(libdrover_objects PRIVATE DROVER_VERSION="${PROJECT_VERSION}")
target_link_libraries(libdrover_objects PRIVATE PkgConfig::CZMQ PkgConfig::ZMQ
                      PkgConfig::MSGPACK PkgConfig::SODIUM)

set(LIBDROVER_DEPS PkgConfig::CZMQ PkgConfig::ZMQ PkgConfig::MSGPACK PkgConfig::SODIUM
    Threads::Threads)
add_library(libdrover_shared SHARED $<TARGET_OBJECTS:libdrover_objects>)
# Before 1.0 a minor release may change the ABI (0.2.0: drover_status_t
# grew), so the soname carries the minor version too: a program built
# against another one fails to load rather than misread a struct.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(LIBDROVER_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
else()
  set(LIBDROVER_SOVERSION ${PROJECT_VERSION_MAJOR})
endif()
set_target_properties(libdrover_shared PROPERTIES OUTPUT_NAME drover
  VERSION ${PROJECT_VERSION} SOVERSION ${LIBDROVER_SOVERSION})
# Every symbol resolved at link time: a missing module shows here, not in
# a user's program.  (Not with sanitizers: clang leaves their runtime to
# the program that loads the library.)
if(NOT DROVER_SANITIZE)
  target_link_options(libdrover_shared PRIVATE -Wl,--no-undefined)
endif()
target_link_libraries(libdrover_shared PRIVATE ${LIBDROVER_DEPS})
add_library(libdrover_static STATIC $<TARGET_OBJECTS:libdrover_objects>)
set_target_properties(libdrover_static PROPERTIES OUTPUT_NAME drover)

# The prefix as seen from the .pc file, so `cmake --install --prefix DIR`
# gives a drover.pc that is right wherever it lands.
file(RELATIVE_PATH LIBDROVER_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" LIBDROVER_PC_TO_PREFIX "${LIBDROVER_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/drover.pc.in ${CMAKE_BINARY_DIR}/drover.pc @ONLY)
install(TARGETS libdrover_shared libdrover_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/drover/drover.h
              ${CMAKE_SOURCE_DIR}/include/drover/plugin.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/drover)
install(FILES ${CMAKE_BINARY_DIR}/drover.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(TARGETS drover RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
