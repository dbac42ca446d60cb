"""What students read when a cloud storage provider fails or refuses, named once."""

MSG_BUSY = ("The video service is busy right now. Your file is safe on your computer: "
            "please try again in a few minutes.")
MSG_MISCONFIGURED = ("The video service is not set up correctly. The site administrator "
                     "has been told; please try again later.")
MSG_QUOTA = ("The video storage for this site is full, so new videos cannot be accepted "
             "right now. The site administrator has been told; please try again later or "
             "contact your instructor.")
MSG_REFUSED = ("The video service refused the request. Please try again; if it keeps "
               "failing, contact your instructor.")
MSG_UPLOAD_GONE = ("This upload has expired or was cancelled, so it cannot be continued. "
                   "Please start the upload again.")
# An upload link or multipart upload that expired before the last byte arrived.
UPLOAD_EXPIRED = "upload_expired"
MSG_UPLOAD_EXPIRED = ("The upload was not finished before its link expired. Please upload "
                      "the video again.")
