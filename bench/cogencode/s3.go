package main

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cloudio-dem/cloudio/internal/upload"
)

// client is a plain S3 client for what the benchmark does besides the
// sink: the staged upload it is compared with, and the size of the result.
func client(cfg upload.S3Config) *s3.Client {
	o := s3.Options{Region: "us-east-1", UsePathStyle: cfg.PathStyle,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")}
	if cfg.Endpoint != "" {
		o.BaseEndpoint = aws.String("http://" + cfg.Endpoint)
	}
	return s3.New(o)
}

// putFile uploads a finished local file in one PUT, streamed from disk.
func putFile(cfg upload.S3Config, path, bucket, key string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	_, err = client(cfg).PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f,
		ContentLength: aws.Int64(st.Size())})
	return err
}

func objectSize(cfg upload.S3Config, bucket, key string) (int64, error) {
	out, err := client(cfg).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	return aws.ToInt64(out.ContentLength), nil
}
