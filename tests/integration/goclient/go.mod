module kiln.test/goclient

go 1.19
