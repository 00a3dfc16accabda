
+process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api"}€Ð•ÿ¼1 €­ñ€½1(€0:

main

f