# Model module build settings.
#
# predict.c and predict_heap.c hold the portable kernels, written as several independent
# scalar walks the CPU overlaps.  GCC's SLP vectorizer rewrites those into
# SSE code that emulates gathers with shuffles, which is slower; the real
# SIMD kernels are in predict_simd.c (run-time dispatched).
set_source_files_properties(${PROJECT_SOURCE_DIR}/src/model/predict.c
  ${PROJECT_SOURCE_DIR}/src/model/predict_heap.c PROPERTIES COMPILE_OPTIONS "-fno-tree-vectorize")

# ONNX: the protobuf-c bindings are generated at build time from the
# onnx.proto that Debian's libonnx-dev ships (/usr/include/onnx/onnx.proto;
# it is the ONNX-ML variant, with the map and sequence types), by protoc-c
# from protobuf-c-compiler, into the build tree, so nothing generated is
# checked in.
find_program(PROTOC_C_EXECUTABLE protoc-c REQUIRED)
find_file(FR_ONNX_PROTO onnx.proto PATHS /usr/include/onnx NO_DEFAULT_PATH REQUIRED)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)
get_filename_component(FR_ONNX_PROTO_DIR ${FR_ONNX_PROTO} DIRECTORY)
set(FR_ONNX_GEN ${PROJECT_BINARY_DIR}/gen/onnx)
add_custom_command(
  OUTPUT ${FR_ONNX_GEN}/onnx.pb-c.c ${FR_ONNX_GEN}/onnx.pb-c.h
  COMMAND ${CMAKE_COMMAND} -E make_directory ${FR_ONNX_GEN}
  COMMAND ${PROTOC_C_EXECUTABLE} --proto_path=${FR_ONNX_PROTO_DIR} --c_out=${FR_ONNX_GEN}
          ${FR_ONNX_PROTO}
  DEPENDS ${FR_ONNX_PROTO}
  COMMENT "protoc-c: ONNX protobuf bindings from ${FR_ONNX_PROTO}"
  VERBATIM)
target_sources(fraud_core PRIVATE ${FR_ONNX_GEN}/onnx.pb-c.c)
# Generated code: its warnings are not ours to fix.
set_source_files_properties(${FR_ONNX_GEN}/onnx.pb-c.c PROPERTIES COMPILE_OPTIONS "-w")
target_include_directories(fraud_core PRIVATE ${FR_ONNX_GEN})
target_link_libraries(fraud_core PUBLIC PkgConfig::PROTOBUF_C)
