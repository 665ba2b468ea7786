module example.com/usermod

go 1.23.0

require (
	github.com/runmatrix/runmatrix v0.0.0
	golang.org/x/sys v0.35.0
)

replace github.com/runmatrix/runmatrix => ../../..
