module github.com/cloudio-dem/cloudio

go 1.23.0

require (
	github.com/airbusgeo/godal v0.0.18
	github.com/mattn/go-pointer v0.0.1
)
