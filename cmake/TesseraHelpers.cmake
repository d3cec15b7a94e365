# Build helpers modelled on Abseil's absl_cc_library / absl_cc_test.
#
#   tessera_cc_library(NAME foo HDRS a.h SRCS a.cc DEPS tessera::base [PUBLIC_DEPS ...] [TESTONLY])
#     -> static library tessera_foo, alias tessera::foo
#   tessera_cc_test(NAME foo_test SRCS a_test.cc DEPS tessera::foo [LABELS unit])
#     -> gtest binary registered with ctest (label "unit" unless told otherwise)
#   tessera_cc_binary(NAME node-debug SRCS main.cc DEPS ...)
#   tessera_cc_fuzzer(NAME foo_fuzzer SRCS foo_fuzzer.cc DEPS tessera::foo
#                     CORPUS fuzz_corpus/foo_fuzzer [SEEDS files or dirs ...])
#     -> with TESSERA_FUZZ (clang): a libFuzzer binary <build>/fuzzers/foo_fuzzer and
#        <build>/fuzzers/foo_fuzzer.seeds (one seed path a line, for deploy/scripts/fuzz.sh);
#     -> without TESSERA_FUZZ, with tests on: the harness linked with a replay main
#        (test/fuzz/replay_main.cc) and ctest foo_fuzzer_corpus running it over CORPUS and
#        SEEDS (label "unit"), so harnesses keep building and known inputs keep passing

set(TESSERA_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(TESSERA_WERROR)
  list(APPEND TESSERA_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND TESSERA_WARNINGS -Wthread-safety)
endif()
if(TESSERA_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC's documentation: sanitizers change code generation enough for
  # -Wmaybe-uninitialized to report false positives (here inside libstdc++'s
  # std::regex under ASan at -O1). The normal build keeps the warning.
  list(APPEND TESSERA_WARNINGS -Wno-maybe-uninitialized)
endif()
if(TESSERA_UNITY AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC's -Wsubobject-linkage exempts types defined in the main file, as they
  # cannot have a second definition. In a unity build every .cc is #included
  # by the batch file, so a class private to one .cc (GpuDriver::Plan) with a
  # field of a type from that .cc's anonymous namespace is flagged although
  # it is still defined once. The normal build keeps the warning for headers.
  list(APPEND TESSERA_WARNINGS -Wno-subobject-linkage)
endif()

if(TESSERA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TESSERA_FUZZ needs clang (CC=clang-14 CXX=clang++-14)")
  endif()
  # Coverage instrumentation for all code, so that libFuzzer sees the
  # branches of the libraries it fuzzes, not only of the harness.
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

if(TESSERA_SANITIZE)
  message(STATUS "tessera: sanitizers ${TESSERA_SANITIZE}")
  add_compile_options(-fsanitize=${TESSERA_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TESSERA_SANITIZE})
endif()

# Our shared libraries (the fake vendor libraries) link with --no-undefined,
# except where clang instruments them: clang links the sanitizer and libFuzzer
# runtimes into executables only, and a shared library leaves those symbols to
# the executable that loads it.
set(TESSERA_SHARED_NO_UNDEFINED -Wl,--no-undefined)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND (TESSERA_SANITIZE OR TESSERA_FUZZ))
  set(TESSERA_SHARED_NO_UNDEFINED)
endif()

# Under TSan every executable carries the absl::Mutex annotations (see
# base/tsan/absl_mutex_annotations.cc): Debian's Abseil is not instrumented.
set(_tessera_tsan_objects)
if(TESSERA_SANITIZE MATCHES "thread")
  add_library(tessera_tsan_annotations OBJECT
    "${CMAKE_CURRENT_LIST_DIR}/../base/tsan/absl_mutex_annotations.cc")
  target_link_libraries(tessera_tsan_annotations PRIVATE absl::synchronization)
  set(_tessera_tsan_objects $<TARGET_OBJECTS:tessera_tsan_annotations>)
  # Export them, so that gRPC's libraries bind to them as well.
  add_link_options(-rdynamic)
endif()

function(tessera_cc_library)
  cmake_parse_arguments(T "TESTONLY" "NAME" "HDRS;SRCS;DEPS;PUBLIC_DEPS" ${ARGN})
  set(_target tessera_${T_NAME})
  if(T_SRCS)
    add_library(${_target} STATIC ${T_SRCS} ${T_HDRS})
    target_include_directories(${_target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${_target} PUBLIC ${T_PUBLIC_DEPS} ${T_DEPS})
    target_compile_options(${_target} PRIVATE ${TESSERA_WARNINGS})
  else()
    add_library(${_target} INTERFACE)
    target_include_directories(${_target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${_target} INTERFACE ${T_PUBLIC_DEPS} ${T_DEPS})
  endif()
  add_library(tessera::${T_NAME} ALIAS ${_target})
endfunction()

function(tessera_cc_test)
  if(NOT TESSERA_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${T_NAME} ${T_SRCS} ${_tessera_tsan_objects})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} tessera::test_matchers GTest::gmock GTest::gtest_main)
  target_compile_options(${T_NAME} PRIVATE ${TESSERA_WARNINGS})
  if(TESSERA_FUZZ)
    # Coverage feedback is for the fuzzers; a test's own code needs none
    # (about a fifth of an instrumented tree's compile time).
    target_compile_options(${T_NAME} PRIVATE -fno-sanitize=fuzzer-no-link)
  endif()
  target_compile_definitions(${T_NAME} PRIVATE
    TESSERA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TESSERA_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

function(tessera_cc_binary)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS} ${_tessera_tsan_objects})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS})
  target_compile_options(${T_NAME} PRIVATE ${TESSERA_WARNINGS})
endfunction()

function(tessera_cc_fuzzer)
  cmake_parse_arguments(T "" "NAME;CORPUS" "SRCS;DEPS;SEEDS" ${ARGN})
  set(_seeds)
  foreach(_s IN LISTS T_CORPUS T_SEEDS)
    cmake_path(ABSOLUTE_PATH _s BASE_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}" NORMALIZE)
    if(NOT EXISTS "${_s}")
      message(FATAL_ERROR "tessera_cc_fuzzer(${T_NAME}): seed ${_s} does not exist")
    endif()
    list(APPEND _seeds "${_s}")
  endforeach()
  if(TESSERA_FUZZ)
    add_executable(${T_NAME} ${T_SRCS})
    target_link_options(${T_NAME} PRIVATE -fsanitize=fuzzer)
    set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/fuzzers")
    list(JOIN _seeds "\n" _lines)
    file(WRITE "${PROJECT_BINARY_DIR}/fuzzers/${T_NAME}.seeds" "${_lines}\n")
    if(NOT TARGET tessera_fuzzers)
      add_custom_target(tessera_fuzzers)
    endif()
    add_dependencies(tessera_fuzzers ${T_NAME})
  elseif(TESSERA_BUILD_TESTS)
    add_executable(${T_NAME} ${T_SRCS} ${_tessera_tsan_objects})
    target_link_libraries(${T_NAME} PRIVATE tessera::fuzz_replay)
  else()
    return()
  endif()
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS})
  target_compile_options(${T_NAME} PRIVATE ${TESSERA_WARNINGS})
  target_compile_definitions(${T_NAME} PRIVATE
    TESSERA_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(TESSERA_BUILD_TESTS AND NOT TESSERA_FUZZ)
    add_test(NAME ${T_NAME}_corpus COMMAND ${T_NAME} ${_seeds})
    set_tests_properties(${T_NAME}_corpus PROPERTIES LABELS unit TIMEOUT 120)
  endif()
endfunction()
